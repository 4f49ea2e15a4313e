"""Echo routing plus a recorder of ``http.disconnect`` and a one-message response."""

import json
import os

from echo_project.routing import channel_routing as echo_routing

from channels import handler
from channels.routing import route

from .urls import record_path


def http_disconnect(message):
    """Append the message (as JSON, bytes as text) to ``disconnects.jsonl``."""
    content = {k: v.decode() if isinstance(v, bytes) else v for k, v in message.content.items()}
    with record_path("disconnects.jsonl").open("a") as f:
        f.write(json.dumps(content) + "\n")


def one_message(message):
    """``?kib=N`` KiB of zeros as one ``http.response`` message."""
    kib = int(message.content.get("query_string", b"").decode().partition("kib=")[2] or 1)
    message.reply_channel.send({"status": 200, "content": b"\0" * (kib * 1024)})


channel_routing = [
    *echo_routing,
    route("http.disconnect", http_disconnect),
    route("http.request", one_message, path=r"^/one/$"),
]

# How long the worker retries a full reply channel (30 s in production):
# shorter here, so tests see it give up within their time.
if os.environ.get("CHANNELS_TEST_REPLY_FULL_TIMEOUT"):
    handler.REPLY_FULL_TIMEOUT = float(os.environ["CHANNELS_TEST_REPLY_FULL_TIMEOUT"])
