"""The channel session: a Django session store keyed by a reply channel.

``channel_session`` gives a consumer ``message.channel_session``, which lives
as long as the connection; :class:`KeyedSession` is the store under it, a
session record whose key is derived from a name rather than invented by the
engine. Both :mod:`channels.sessions` (the public decorators) and
:mod:`channels.ordering` (which keeps its state in such records) build on
this module, and it imports neither, so the two import without a cycle
(docs/architecture.rst, "Layering").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import import_module
from types import ModuleType

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured

from .decorators import consumer_decorator

__all__ = [
    "KeyedSession",
    "channel_key",
    "channel_session",
    "save_channel_session_now",
    "session_engine",
    "session_for_reply_channel",
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
