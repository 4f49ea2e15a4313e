"""WebSocket consumers of the chat demo, in the Channels 1.x style."""

import json

from channels import Group


def room_group(room: str) -> Group:
    """The group of every socket in ``room``."""
    return Group(f"chat-{room}")


def ws_connect(message, room):
    """Accept the socket and join the room's group."""
    room_group(room).add(message.reply_channel)
    message.reply_channel.send({"accept": True})


def ws_receive(message, room):
    """Relay a chat line to everyone in the room."""
    try:
        data = json.loads(message.content.get("text") or "{}")
    except ValueError:
        data = {}
    text = str(data.get("message", "")).strip()[:1000]
    if text:
        name = str(data.get("name", "anonymous")).strip()[:40] or "anonymous"
        room_group(room).send({"text": json.dumps({"name": name, "message": text})})


def ws_disconnect(message, room):
    """Leave the room's group."""
    room_group(room).discard(message.reply_channel)
