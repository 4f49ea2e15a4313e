"""WebSocket consumers of the deploy project: accept, and echo every text
frame as ``"<REPLY_PREFIX>|<worker pid>|<text>"``."""

import os

#: The "code version": fixed when the worker imports this module.
REPLY_PREFIX = os.environ.get("REPLY_PREFIX", "v1")
PID = str(os.getpid())


def ws_connect(message):
    message.reply_channel.send({"accept": True})


def ws_receive(message):
    message.reply_channel.send({"text": f"{REPLY_PREFIX}|{PID}|{message.get('text')}"})


def ws_disconnect(message):
    pass
