"""Consumers of the multichat project, in the idioms of the 1.x docs
(Generic Consumers: "WebSocket Multiplexing"; Authentication)."""

import json

from channels import Group
from channels.auth import channel_session_user_from_http
from channels.generic.websockets import (
    JsonWebsocketConsumer,
    WebsocketDemultiplexer,
    WebsocketMultiplexer,
)


def room_group(room):
    return Group(f"room-{room}")


class RoomsConsumer(JsonWebsocketConsumer):
    """Stream ``rooms``: join and leave rooms, say things in them."""

    # message.user comes from the channel session the login was copied into.
    channel_session_user = True

    def connect(self, message, multiplexer, **kwargs):
        multiplexer.send({"hello": message.user.username or None})

    def receive(self, content, multiplexer, **kwargs):
        user = self.message.user
        rooms = self.message.channel_session.setdefault("rooms", [])
        if not user.is_authenticated:
            multiplexer.send({"error": "login required"})
        elif "join" in content:
            room = content["join"]
            room_group(room).add(self.message.reply_channel)
            self.message.channel_session["rooms"] = sorted(set(rooms) | {room})
            WebsocketMultiplexer.group_send(
                room_group(room).name, "rooms", {"room": room, "joined": user.username}
            )
        elif "leave" in content:
            room = content["leave"]
            room_group(room).discard(self.message.reply_channel)
            self.message.channel_session["rooms"] = sorted(set(rooms) - {room})
            multiplexer.send({"room": room, "left": user.username})
            WebsocketMultiplexer.group_send(
                room_group(room).name, "rooms", {"room": room, "left": user.username}
            )
        elif content.get("room") in rooms:
            WebsocketMultiplexer.group_send(
                room_group(content["room"]).name,
                "rooms",
                {"room": content["room"], "user": user.username, "say": content["say"]},
            )
        else:
            multiplexer.send({"error": f"not in room {content.get('room')}"})

    def disconnect(self, message, multiplexer, **kwargs):
        for room in message.channel_session.get("rooms", []):
            room_group(room).discard(message.reply_channel)


class WhoConsumer(JsonWebsocketConsumer):
    """Stream ``who``: who this socket is and which rooms it is in."""

    channel_session_user = True

    def receive(self, content, multiplexer, **kwargs):
        multiplexer.send(
            {
                "user": self.message.user.username or None,
                "rooms": self.message.channel_session.get("rooms", []),
            }
        )


class ChatDemultiplexer(WebsocketDemultiplexer):
    consumers = {
        "rooms": RoomsConsumer,
        "who": WhoConsumer,
    }

    # The login of the HTTP session (the handshake's cookie) is copied into
    # the channel session, where every later frame's consumers find it.
    @channel_session_user_from_http
    def connect(self, message, **kwargs):
        super().connect(message, **kwargs)


@channel_session_user_from_http
def ws_connect_login_check(message):
    message.reply_channel.send({"accept": True})
    message.reply_channel.send({"text": json.dumps({"user": message.user.username or None})})
