"""The one consumer of the Redis fault-test project."""

import os


def ping(message):
    """Answer on the reply channel with the ping's number and our pid."""
    message.reply_channel.send({"n": message["n"], "pid": os.getpid()})
