"""Routing of the views test project: Django views plus two test consumers."""

import os
import sys
import time

from channels.routing import route


def slow_consumer(message):
    """Takes a while, then replies: lets tests SIGTERM a busy worker (once
    it printed that it started)."""
    print(f"slow consumer started n={message.content['n']}", file=sys.stderr, flush=True)
    time.sleep(float(message.content.get("seconds", 2)))
    message.reply_channel.send({"done": message.content["n"], "pid": os.getpid()})


def failing_consumer(message):
    """Raises on "boom", replies otherwise: a consumer error must not kill the worker."""
    if message.content.get("boom"):
        raise RuntimeError("consumer exploded on purpose")
    message.reply_channel.send({"ok": message.content["n"]})


channel_routing = [
    route("test.slow", slow_consumer),
    route("test.maybe_fail", failing_consumer),
]
