import json

from channels import Channel, Group
from channels.auth import channel_session_user, channel_session_user_from_http
from channels.generic.websockets import (
    JsonWebsocketConsumer,
    WebsocketDemultiplexer,
    WebsocketMultiplexer,
)
from channels.sessions import enforce_ordering

ROOMS = ["lobby", "random"]


@enforce_ordering
@channel_session_user_from_http
def ws_connect(message, room):
    if not message.user.is_authenticated or room not in ROOMS:
        message.reply_channel.send({"close": True})
        return
    message.channel_session["room"] = room
    Group(f"chat-{room}").add(message.reply_channel)
    message.reply_channel.send({"accept": True})
    Group(f"chat-{room}").send(
        {"text": json.dumps({"joined": message.user.username})}
    )


@enforce_ordering
@channel_session_user
def ws_message(message):
    room = message.channel_session["room"]
    Group(f"chat-{room}").send(
        {
            "text": json.dumps(
                {"user": message.user.username, "message": message["text"]}
            )
        }
    )
    Channel("chat.log").send({"room": room, "user": message.user.username})


@enforce_ordering
@channel_session_user
def ws_disconnect(message):
    room = message.channel_session.get("room")
    if room:
        Group(f"chat-{room}").discard(message.reply_channel)


def log_consumer(message):
    Group("chat-log").send({"text": json.dumps(message.content)})


class RoomsConsumer(JsonWebsocketConsumer):
    http_user = True

    def receive(self, content, multiplexer, **kwargs):
        if content.get("action") == "list":
            multiplexer.send({"rooms": ROOMS, "user": self.message.user.username})


class WhoConsumer(JsonWebsocketConsumer):
    http_user = True

    def connection_groups(self, **kwargs):
        return ["who"]

    def connect(self, message, multiplexer, **kwargs):
        WebsocketMultiplexer.group_send(
            "who", "who", {"here": message.user.username}
        )

    def receive(self, content, multiplexer, **kwargs):
        multiplexer.send({"you": self.message.user.username})


class ChatDemultiplexer(WebsocketDemultiplexer):
    http_user = True

    consumers = {
        "rooms": RoomsConsumer,
        "who": WhoConsumer,
    }
