"""Sessions for consumers, and in-order processing of a connection's messages.

``channel_session``
    a Django session keyed by the message's reply channel: it lives as long
    as the connection, so what ``websocket.connect`` stores there is there for
    every ``websocket.receive`` of that socket.
``http_session``
    the user's ordinary Django session, found from the ``sessionid`` cookie
    of an HTTP request or WebSocket handshake, or from a ``session_key``
    query parameter of a WebSocket handshake (see :func:`http_session_key`).
``channel_and_http_session``
    both: the HTTP session key seen at connect is remembered in the channel
    session, so later messages of the socket get the HTTP session too.
``enforce_ordering``
    runs the WebSocket messages of one connection strictly in their
    ``order``, however many workers take them (see :func:`enforce_ordering`).

Every decorator works on plain and ``async def`` consumers. Sessions use
``CHANNEL_SESSION_ENGINE`` if set, else ``SESSION_ENGINE``; any engine whose
data lives outside the worker process works (db, cache with a shared cache,
cached_db, file). Signed-cookie sessions cannot hold data server-side and are
refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import CookieError
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ImproperlyConfigured
from django.http.cookie import parse_cookie

from .decorators import consumer_decorator
from .message import header_pairs

# Channels 1.x code imports these from here. The channel session and its
# store live in .session_store and enforce_ordering in .ordering, which
# builds on .session_store rather than on this module: no import cycle
# (docs/architecture.rst, "Layering").
from .ordering import enforce_ordering
from .session_store import channel_session, session_engine, session_for_reply_channel

__all__ = [
    "channel_session",
    "http_session",
    "channel_and_http_session",
    "enforce_ordering",
    "session_for_reply_channel",
    "session_engine",
]


# ---------------------------------------------------------------------------
# http_session
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


#: Setting naming the messages whose ``session_key`` query parameter may
#: name the HTTP session: ``"websocket"`` (the default), ``True`` or ``False``.
QUERY_KEY_SETTING = "CHANNELS_SESSION_KEY_IN_QUERY_STRING"


def session_key_from_query_allowed(channel: str) -> bool:
    """Whether a message on ``channel`` may name its session in the query string.

    By default only WebSocket messages may: browsers cannot set cookies on a
    WebSocket to another domain, which is why Channels 1.x read a
    ``session_key`` parameter at all. On plain HTTP it would put session IDs
    in URLs and access logs and let a link fix a visitor's session, so it is
    off unless ``CHANNELS_SESSION_KEY_IN_QUERY_STRING = True``; ``False``
    turns it off for WebSockets too.
    """
    allowed = getattr(settings, QUERY_KEY_SETTING, "websocket")
    if allowed == "websocket":
        return channel.startswith("websocket.")
    if allowed is True or allowed is False:
        return allowed
    raise ImproperlyConfigured(
        f'{QUERY_KEY_SETTING} must be "websocket" (the default: WebSocket handshakes '
        f"only), True (every message) or False (never), not {allowed!r}"
    )


def http_session_key(content: dict, channel: str) -> str | None:
    """The Django session key of a request or handshake on ``channel``, if any.

    Where :func:`session_key_from_query_allowed` lets it, a ``session_key``
    query parameter wins over the cookie, as in Channels 1.x; otherwise only
    the session cookie counts.
    """
    if session_key_from_query_allowed(channel):
        query = parse_qs(_text(content.get("query_string", "")))
        if query.get("session_key"):
            return query["session_key"][0]
    cookies: dict[str, str] = {}
    for name, value in header_pairs(content.get("headers")):
        if _text(name).lower() == "cookie":
            try:
                cookies.update(parse_cookie(_text(value)))
            except CookieError:
                continue
    return cookies.get(settings.SESSION_COOKIE_NAME)


def _open_http_session(message) -> SessionBase | None:
    if hasattr(message, "http_session"):
        return None
    key = http_session_key(message.content, message.channel.name)
    engine = import_module(settings.SESSION_ENGINE)
    message.http_session = engine.SessionStore(session_key=key) if key else None
    return message.http_session


def _close_http_session(message, session: SessionBase | None, exc) -> None:
    if session is not None and exc is None and session.modified:
        session.save()


def http_session(func: Callable) -> Callable:
    """Give the consumer ``message.http_session``: the user's Django session.

    Found from the session cookie of the message (an ``http.request`` or a
    ``websocket.connect``), or from a ``session_key`` query parameter of a
    WebSocket handshake (``CHANNELS_SESSION_KEY_IN_QUERY_STRING``); ``None``
    when there is neither. Saved after the consumer if modified.
    """
    return consumer_decorator(func, _open_http_session, _close_http_session)


def _remember_http_session(message) -> bool:
    name = settings.SESSION_COOKIE_NAME
    if message.http_session is not None and name not in message.channel_session:
        message.channel_session[name] = message.http_session.session_key
    elif message.http_session is None and name in message.channel_session:
        engine = import_module(settings.SESSION_ENGINE)
        message.http_session = engine.SessionStore(session_key=message.channel_session[name])
    return True


def channel_and_http_session(func: Callable) -> Callable:
    """Both sessions on every message of a socket.

    The HTTP session key seen at connect is kept in the channel session, and
    later messages (which carry no cookies) load the HTTP session from it.
    """
    return http_session(channel_session(consumer_decorator(func, _remember_http_session)))
