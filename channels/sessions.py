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

import hashlib
import logging
import sys
from collections.abc import Callable
from http.cookies import CookieError
from importlib import import_module
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured
from django.http.cookie import parse_cookie

from .decorators import consumer_decorator
from .message import header_pairs

logger = logging.getLogger("channels.sessions")

__all__ = [
    "channel_session",
    "http_session",
    "channel_and_http_session",
    "enforce_ordering",
    "session_for_reply_channel",
    "session_engine",
]

SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


# ---------------------------------------------------------------------------
# session stores with a fixed key
# ---------------------------------------------------------------------------


def session_engine(path: str | None = None) -> ModuleType:
    """The session engine module channel sessions use.

    ``CHANNEL_SESSION_ENGINE`` if set, else ``SESSION_ENGINE``. Raises
    ``ImproperlyConfigured`` for signed-cookie sessions, which keep their
    data in the browser and so have nowhere to keep a channel's.
    """
    path = path or getattr(settings, "CHANNEL_SESSION_ENGINE", None) or settings.SESSION_ENGINE
    if path == SIGNED_COOKIES:
        raise ImproperlyConfigured(
            "channel sessions (channel_session, channel_session_user, enforce_ordering) cannot "
            f"use the signed-cookie session engine ({SIGNED_COOKIES}): it stores data in the "
            "browser's cookie, and a channel has no cookie. Set SESSION_ENGINE, or "
            "CHANNEL_SESSION_ENGINE for channels only, to a server-side engine such as "
            "django.contrib.sessions.backends.db or .cache."
        )
    return import_module(path)


def channel_key(prefix: str, reply_channel: str) -> str:
    """A session key derived from a reply channel name.

    Lower-case hex only, so every engine accepts it (the file engine refuses
    other characters), and 32 characters, under the db engine's 40.
    """
    return prefix + hashlib.sha256(reply_channel.encode("utf-8")).hexdigest()[:29]


class KeyedSession:
    """A session store pinned to one key, created on first save.

    Django's engines forget a key that has no record yet (they expect to
    invent keys themselves), so the key is put back after loading and before
    saving, and the first save creates the record.
    """

    def __init__(self, key: str, engine: ModuleType | None = None) -> None:
        self.key = key
        self.store: SessionBase = (engine or session_engine()).SessionStore(session_key=key)
        # Loading resets the key to None when no record exists.
        self.store._get_session()
        self.existed = self.store.session_key is not None
        self.store._session_key = key

    def save(self) -> None:
        """Write the store, creating its record if needed (last writer wins)."""
        store = self.store
        # auth.get_user() flushes a session whose password hash went stale,
        # which also drops the key: keep ours.
        store._session_key = self.key
        if self.existed:
            try:
                store.save()
                store.modified = False
                return
            except UpdateError:
                pass  # expired or deleted meanwhile: create it again below
        try:
            store.save(must_create=True)
        except CreateError:
            # Created by someone else since we loaded it.
            store.save()
        self.existed = True
        store.modified = False

    def delete(self) -> None:
        """Delete the record (a no-op if there is none)."""
        self.store.delete(self.key)
        self.existed = False


def session_for_reply_channel(reply_channel: str) -> SessionBase:
    """The channel session of ``reply_channel`` (a Django session store).

    Its key is derived from the channel name; the record is created the
    first time the session is saved.
    """
    return KeyedSession(channel_key("chn", reply_channel)).store


# ---------------------------------------------------------------------------
# channel_session
# ---------------------------------------------------------------------------


def _open_channel_session(message) -> KeyedSession | None:
    """Attach ``message.channel_session``; None if an outer decorator did."""
    if getattr(message, "channel_session", None) is not None:
        return None
    if message.reply_channel is None:
        raise ValueError(
            "channel_session needs a message with a reply_channel; "
            f"messages on {message.channel.name!r} have none"
        )
    keyed = KeyedSession(channel_key("chn", message.reply_channel.name))
    message.channel_session = keyed.store
    message._channel_session_keyed = keyed
    return keyed


def _close_channel_session(message, keyed: KeyedSession | None, exc) -> None:
    if keyed is None:
        return
    if message.channel.name == "websocket.disconnect":
        # The connection is gone: so is its session.
        keyed.delete()
        return
    # As with the outbox, a consumer that failed leaves no trace.
    if exc is None and keyed.store.modified:
        keyed.save()


def save_channel_session_now(message) -> None:
    """Save ``message.channel_session`` now if modified (before ordering advances)."""
    keyed = getattr(message, "_channel_session_keyed", None)
    if keyed is None or message.channel.name == "websocket.disconnect":
        return
    if keyed.store.modified:
        keyed.save()


def channel_session(func: Callable) -> Callable:
    """Give the consumer ``message.channel_session``, kept per reply channel.

    The session is saved after the consumer returns if it was modified, and
    deleted after a ``websocket.disconnect`` consumer: it lives as long as
    the connection. Nested uses share one session.
    """
    return consumer_decorator(func, _open_channel_session, _close_channel_session)


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


# Channels 1.x imported enforce_ordering from here; it lives in .ordering,
# which builds on this module. When .ordering is imported first (and so
# imports this module half-way through), it sets the name here itself.
if f"{__package__}.ordering" not in sys.modules:
    from .ordering import enforce_ordering  # noqa: E402
