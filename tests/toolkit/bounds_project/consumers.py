"""Consumers of the bounds project."""

from __future__ import annotations

import json
import os
import time

from channels.sessions import enforce_ordering, http_session

#: Seconds an ordered message's consumer works, like a real one would.
WORK = float(os.environ.get("CHANNELS_TEST_WORK", "0.005"))


@enforce_ordering
def ordered_connect(message):
    message.channel_session["count"] = 0
    message.reply_channel.send({"accept": True})


@enforce_ordering
def ordered_receive(message):
    time.sleep(WORK)
    message.channel_session["count"] += 1
    message.reply_channel.send({"text": str(message.content["order"])})


@enforce_ordering
def ordered_disconnect(message):
    pass


def _session_json(message) -> str:
    session = message.http_session
    return json.dumps(None if session is None else {"key": session.session_key, **session})


@http_session
def session_connect(message):
    """Accept, then say whose session the handshake was given."""
    message.reply_channel.send({"accept": True})
    message.reply_channel.send({"text": _session_json(message)})


@http_session
def session_request(message):
    """Answer an HTTP request with the session it was given."""
    message.reply_channel.send(
        {
            "status": 200,
            "headers": [[b"content-type", b"application/json"]],
            "content": _session_json(message).encode(),
        }
    )
