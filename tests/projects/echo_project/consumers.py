"""WebSocket consumers of the echo project.

Paths: ``/echo/`` echoes; ``/reject/`` refuses the connection (403),
``/refuse/<code>/`` closes it at connect with that code; ``/room/``
joins group "room" and relays every message to it; ``/close/<code>/``
closes with that code on the first message; ``/watch/`` receives one text
line per disconnect elsewhere ("disconnect <path> <code>").
"""

from channels import Group


def ws_connect(message):
    """Accept (picking the client's first subprotocol) or reject by path."""
    path = message["path"]
    if path.startswith("/reject"):
        message.reply_channel.send({"close": True})
        return
    if path.startswith("/refuse/"):
        # /refuse/<code>/: refuse with a close code the client must see.
        message.reply_channel.send({"close": int(path.split("/")[2])})
        return
    if path.startswith("/room"):
        Group("room").add(message.reply_channel)
    if path.startswith("/watch"):
        Group("watchers").add(message.reply_channel)
    reply = {"accept": True}
    if message.get("subprotocols"):
        reply["subprotocol"] = message["subprotocols"][0]
    message.reply_channel.send(reply)


def ws_receive(message):
    """Echo, relay to the room, or close with a code, by path."""
    path = message["path"]
    payload = (
        {"text": message["text"]}
        if message.get("text") is not None
        else {"bytes": message["bytes"]}
    )
    if path.startswith("/room"):
        Group("room").send(payload)
    elif path.startswith("/close/"):
        code = int(path.strip("/").split("/")[1])
        message.reply_channel.send({"close": code})
    else:
        message.reply_channel.send(payload)


def ws_disconnect(message):
    """Leave groups and tell the watchers."""
    Group("room").discard(message.reply_channel)
    Group("watchers").discard(message.reply_channel)
    Group("watchers").send({"text": f"disconnect {message['path']} {message['code']}"})
