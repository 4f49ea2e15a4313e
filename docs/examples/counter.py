"""A per-socket counter: channel_session and enforce_ordering."""

from channels.routing import route
from channels.sessions import enforce_ordering


@enforce_ordering  # also gives message.channel_session
def connect(message):
    message.channel_session["count"] = 0
    message.reply_channel.send({"accept": True})


@enforce_ordering
def receive(message):
    # Messages of one socket run one at a time, in order, on any worker:
    # this read-modify-write never loses an update.
    message.channel_session["count"] += 1
    message.reply_channel.send({"text": str(message.channel_session["count"])})


channel_routing = [
    route("websocket.connect", connect, path=r"^/count/$"),
    route("websocket.receive", receive, path=r"^/count/$"),
]
