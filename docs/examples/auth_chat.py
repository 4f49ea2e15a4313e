"""Logged-in users only: the user comes from the handshake's session cookie."""

import json

from channels import Group
from channels.auth import channel_session_user, channel_session_user_from_http, login_required
from channels.routing import route


@channel_session_user_from_http  # message.user from the cookie, kept for later frames
@login_required(close_code=4001)  # anonymous sockets are closed with 4001
def connect(message, room):
    Group(f"room-{room}").add(message.reply_channel)
    message.reply_channel.send({"accept": True})


@channel_session_user  # frames carry no cookie: the user comes from the channel session
def receive(message, room):
    line = {"user": message.user.get_username(), "text": message.content["text"]}
    Group(f"room-{room}").send({"text": json.dumps(line)})


@channel_session_user
def disconnect(message, room):
    Group(f"room-{room}").discard(message.reply_channel)


ROOM = r"^/rooms/(?P<room>\w+)/$"
channel_routing = [
    route("websocket.connect", connect, path=ROOM),
    route("websocket.receive", receive, path=ROOM),
    route("websocket.disconnect", disconnect, path=ROOM),
]
