"""WebSocket consumers of our benchmark project: echo and group broadcast."""

from channels import Group

GROUP = "bench"


def accept(message):
    message.reply_channel.send({"accept": True})


def echo_receive(message):
    content = message.content
    if content.get("text") is not None:
        message.reply_channel.send({"text": content["text"]})
    else:
        message.reply_channel.send({"bytes": content.get("bytes", b"")})


def broadcast_connect(message):
    Group(GROUP).add(message.reply_channel)
    message.reply_channel.send({"accept": True})


def broadcast_receive(message):
    Group(GROUP).send({"text": message.content.get("text") or ""})


def broadcast_disconnect(message):
    Group(GROUP).discard(message.reply_channel)


def nothing(message):
    """Echo sockets leave no state behind: nothing to do on disconnect."""
