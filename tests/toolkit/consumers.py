"""Consumers the in-process toolkit tests route to (memory backend)."""

from __future__ import annotations

import json

from channels import Channel
from channels.auth import (
    channel_session_user,
    channel_session_user_from_http,
    http_session_user,
    login_required,
    permission_required,
)
from channels.exceptions import ConsumeLater
from channels.routing import route
from channels.sessions import (
    channel_and_http_session,
    channel_session,
    enforce_ordering,
    http_session,
)

# --- sessions ---------------------------------------------------------------


@channel_session
def count_connect(message):
    message.channel_session["count"] = 0
    message.reply_channel.send({"accept": True})


@channel_session
def count_receive(message):
    if message.content.get("text") == "fail":
        message.channel_session["count"] = -1000
        raise RuntimeError("failed on purpose")
    message.channel_session["count"] = message.channel_session.get("count", 0) + 1
    message.reply_channel.send({"text": str(message.channel_session["count"])})


@channel_session
def count_disconnect(message):
    Channel("test.disconnected").send({"count": message.channel_session.get("count")})


@http_session
def http_echo(message):
    session = message.http_session
    if session is not None:
        session["visits"] = session.get("visits", 0) + 1
    message.reply_channel.send(
        {"text": json.dumps(None if session is None else {"key": session.session_key, **session})}
    )


@channel_and_http_session
def both(message):
    http = message.http_session
    message.reply_channel.send({"text": json.dumps(None if http is None else http.get("color"))})


# --- auth -------------------------------------------------------------------


@channel_session_user_from_http
@login_required(close_code=4001)
def auth_connect(message):
    message.reply_channel.send({"accept": True})


@channel_session_user
def auth_receive(message):
    message.reply_channel.send({"text": message.user.get_username() or "anonymous"})


@channel_session_user_from_http
@permission_required("auth.add_user")
def perm_connect(message):
    message.reply_channel.send({"accept": True})


@http_session_user
async def async_http_user(message):
    message.reply_channel.send({"text": message.user.get_username() or "anonymous"})


@channel_session_user
@login_required
async def async_login_receive(message):
    message.reply_channel.send({"text": "hello " + message.user.get_username()})


# --- ordering ---------------------------------------------------------------


@enforce_ordering
def ordered_connect(message):
    message.channel_session["seen"] = []
    message.reply_channel.send({"accept": True})


@enforce_ordering
def ordered_receive(message):
    seen = message.channel_session.get("seen", [])
    seen.append(message.content["order"])
    message.channel_session["seen"] = seen
    if message.content.get("text") == "later" and not message.content.get("__retries__"):
        raise ConsumeLater
    message.reply_channel.send({"text": str(message.content["order"])})


@enforce_ordering
async def async_ordered_receive(message):
    message.reply_channel.send({"text": "async " + str(message.content["order"])})


@enforce_ordering
def ordered_disconnect(message):
    Channel("test.disconnected").send({"seen": message.channel_session.get("seen")})


routes = [
    route("websocket.connect", count_connect, path=r"^/count/$"),
    route("websocket.receive", count_receive, path=r"^/count/$"),
    route("websocket.disconnect", count_disconnect, path=r"^/count/$"),
    route("websocket.receive", http_echo, path=r"^/http/$"),
    route("http.request", http_echo, path=r"^/http/$"),
    route("websocket.connect", both, path=r"^/both/$"),
    route("websocket.receive", both, path=r"^/both/$"),
    route("websocket.connect", auth_connect, path=r"^/auth/$"),
    route("websocket.receive", auth_receive, path=r"^/auth/$"),
    route("websocket.connect", perm_connect, path=r"^/perm/$"),
    route("websocket.connect", auth_connect, path=r"^/async-auth/$"),
    route("websocket.receive", async_login_receive, path=r"^/async-auth/$"),
    route("websocket.receive", async_http_user, path=r"^/async-http/$"),
    route("websocket.connect", ordered_connect, path=r"^/ordered/$"),
    route("websocket.receive", ordered_receive, path=r"^/ordered/$"),
    route("websocket.disconnect", ordered_disconnect, path=r"^/ordered/$"),
    route("websocket.receive", async_ordered_receive, path=r"^/async-ordered/$"),
    route("websocket.receive", ordered_receive, path=r"^/unordered-connect/$"),
]
