"""Sessions for consumers, and in-order processing of a connection's messages.

``channel_session``
    a Django session keyed by the message's reply channel: it lives as long
    as the connection, so what ``websocket.connect`` stores there is there for
    every ``websocket.receive`` of that socket.
``http_session``
    the user's ordinary Django session, found from the ``sessionid`` cookie
    (or a ``session_key`` query parameter) of an HTTP request or WebSocket
    handshake.
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

import base64
import functools
import hashlib
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookies import CookieError
from importlib import import_module
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured
from django.http.cookie import parse_cookie

from .exceptions import ChannelFull, ConsumeLater
from .outbox import current_outbox
from .serialization import decode, encode

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
# decorator plumbing: one enter/exit pair gives a sync or an async wrapper
# ---------------------------------------------------------------------------

#: Returned by an ``enter`` step to say "do not run the consumer".
SKIP = object()


def consumer_decorator(
    func: Callable,
    enter: Callable[[Any], Any],
    exit: Callable[[Any, Any, BaseException | None], None] | None = None,
) -> Callable:
    """Wrap consumer ``func`` with ``enter(message)`` and ``exit(message, state, exc)``.

    ``enter`` runs before the consumer and returns a state (or :data:`SKIP`
    to not run it); ``exit`` runs after it with that state and the exception
    the consumer raised, if any. Both are synchronous: for an ``async def``
    consumer they run through ``sync_to_async`` on the worker's own thread,
    where database connections and the consumer's outbox live.
    """
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_inner(message, *args, **kwargs):
            state = await sync_to_async(enter)(message)
            if state is SKIP:
                return None
            try:
                result = await func(message, *args, **kwargs)
            except BaseException as exc:
                if exit is not None:
                    await sync_to_async(exit)(message, state, exc)
                raise
            if exit is not None:
                await sync_to_async(exit)(message, state, None)
            return result

        return async_inner

    @functools.wraps(func)
    def inner(message, *args, **kwargs):
        state = enter(message)
        if state is SKIP:
            return None
        try:
            result = func(message, *args, **kwargs)
        except BaseException as exc:
            if exit is not None:
                exit(message, state, exc)
            raise
        if exit is not None:
            exit(message, state, None)
        return result

    return inner


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


def http_session_key(content: dict) -> str | None:
    """The Django session key of a request or handshake message, if any.

    A ``session_key`` query parameter wins (browsers cannot set cookies on a
    WebSocket from another origin), then the session cookie.
    """
    query = parse_qs(_text(content.get("query_string", "")))
    if query.get("session_key"):
        return query["session_key"][0]
    cookies: dict[str, str] = {}
    for name, value in content.get("headers") or []:
        if _text(name).lower() == "cookie":
            try:
                cookies.update(parse_cookie(_text(value)))
            except CookieError:
                continue
    return cookies.get(settings.SESSION_COOKIE_NAME)


def _open_http_session(message) -> SessionBase | None:
    if hasattr(message, "http_session"):
        return None
    key = http_session_key(message.content)
    engine = import_module(settings.SESSION_ENGINE)
    message.http_session = engine.SessionStore(session_key=key) if key else None
    return message.http_session


def _close_http_session(message, session: SessionBase | None, exc) -> None:
    if session is not None and exc is None and session.modified:
        session.save()


def http_session(func: Callable) -> Callable:
    """Give the consumer ``message.http_session``: the user's Django session.

    Found from the session cookie or a ``session_key`` query parameter of the
    message (an ``http.request`` or a ``websocket.connect``); ``None`` when
    there is neither. Saved after the consumer if modified.
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


# ---------------------------------------------------------------------------
# enforce_ordering
# ---------------------------------------------------------------------------

#: Key added to the content of the messages enforce_ordering re-sends.
ORDERING_KEY = "__ordering__"
#: Seconds a connection waits for a missing message before going on without it.
DEFAULT_MAX_WAIT = 30.0
#: Seconds a worker waits for a connection's ordering lock before requeueing.
LOCK_WAIT = 5.0
#: Least seconds between two looks at a stalled connection by its probe.
PROBE_INTERVAL = 0.05


def max_wait() -> float:
    """``CHANNELS_ORDERING_MAX_WAIT`` (seconds), default 30."""
    return float(getattr(settings, "CHANNELS_ORDERING_MAX_WAIT", DEFAULT_MAX_WAIT))


def _ordering_engine() -> ModuleType:
    engine = session_engine()
    # cached_db reads through a cache that may be private to each process;
    # ordering state must be read fresh, so go to its database table.
    if engine.__name__ == "django.contrib.sessions.backends.cached_db":
        return import_module("django.contrib.sessions.backends.db")
    return engine


def _ordering_names(reply_channel: str) -> tuple[str, str]:
    digest = hashlib.sha256(reply_channel.encode("utf-8")).hexdigest()[:32]
    return f"channels.ordering.lock.{digest}", channel_key("ord", reply_channel)


@contextmanager
def _connection_lock(backend, name: str, wait: float) -> Iterator[bool]:
    """Hold the ordering lock of one connection; yields whether it was got.

    The lock is a message on a channel of capacity one, so every backend's
    atomic capacity check makes it a try-lock across processes, and the
    backend's EXPIRY makes it a lease: a worker that dies holding it blocks
    the connection for at most EXPIRY seconds.
    """
    token = backend.encode({"pid": os.getpid()})
    deadline = time.monotonic() + wait
    delay = 0.001
    while True:
        try:
            backend._send(name, token, 1)
            break
        except ChannelFull:
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
    try:
        yield True
    finally:
        backend.receive_many([name])


class OrderingState:
    """What enforce_ordering knows of one connection, in a session record.

    ``next``: the order to run next. ``held``: early messages, by order,
    each with its channel, encoded content and when it was held.
    ``progress``: when ``next`` last moved or its message started.
    ``probe``: whether a probe message is circulating.
    """

    def __init__(self, reply_channel: str, order: int) -> None:
        _, key = _ordering_names(reply_channel)
        self.keyed = KeyedSession(key, _ordering_engine())
        data = self.keyed.store.get("state")
        if data is None:
            # No state: the connect was not under enforce_ordering (it may
            # not be routed at all). The server sends nothing before the
            # socket is accepted, so anything after it starts at order 1.
            data = {"next": 0 if order == 0 else 1, "held": {}, "progress": time.time()}
            self.new = True
        else:
            self.new = False
        self.next: int = data["next"]
        self.held: dict[str, dict] = data["held"]
        self.progress: float = data.get("progress", time.time())
        self.probe: bool = data.get("probe", False)

    def save(self) -> None:
        """Write the state back."""
        self.keyed.store["state"] = {
            "next": self.next,
            "held": self.held,
            "progress": self.progress,
            "probe": self.probe,
        }
        self.keyed.save()

    def delete(self) -> None:
        """Forget the connection (after its disconnect)."""
        self.keyed.delete()

    def hold(self, order: int, channel: str, content: dict) -> None:
        """Keep an early message until its turn."""
        self.held[str(order)] = {
            "channel": channel,
            "content": base64.b64encode(encode(content)).decode("ascii"),
            "since": time.time(),
        }

    def lowest_held(self) -> int | None:
        """The smallest order held back, if any."""
        return min(map(int, self.held), default=None)

    def content_of(self, order: int) -> dict:
        """The content of a held message."""
        return decode(base64.b64decode(self.held[str(order)]["content"]))


def _resend(backend, channel: str, content: dict, **marker: Any) -> bool:
    """Put a message back on its channel with an ordering marker."""
    try:
        backend.send(channel, {**content, ORDERING_KEY: marker})
        return True
    except ChannelFull:
        logger.warning("enforce_ordering: %s is full; will retry via the probe", channel)
        return False


def _dispatch_next(state: OrderingState, backend, reply: str) -> None:
    """Send the held message whose turn it is, then drop it from the store.

    Sent before it is dropped: if the worker dies in between, the message
    exists twice, and the copy that comes late is recognised (its order is
    below ``next``) and discarded. Nothing is lost.
    """
    entry = state.held.get(str(state.next))
    if entry is None:
        return
    if _resend(backend, entry["channel"], state.content_of(state.next), resent=True):
        del state.held[str(state.next)]
    else:
        _ensure_probe(state, backend, entry["channel"], state.content_of(state.next))


def _ensure_probe(state: OrderingState, backend, channel: str, content: dict) -> None:
    """Make sure a probe circulates while messages are held (the wait's timer)."""
    if state.probe or not state.held:
        return
    state.probe = _resend(backend, channel, content, probe=True, sent=time.time())


def _give_up_gap(state: OrderingState, backend, reply: str) -> None:
    """After the bounded wait, go on from the lowest held message."""
    lowest = state.lowest_held()
    logger.error(
        "enforce_ordering: connection %s waited %.1f s for message order %d, which never "
        "came (lost, expired, or its worker died); going on from order %d. Raise "
        "CHANNELS_ORDERING_MAX_WAIT if consumers legitimately run longer.",
        reply,
        time.time() - state.progress,
        state.next,
        lowest,
    )
    state.next = lowest
    state.progress = time.time()
    _dispatch_next(state, backend, reply)


def _stalled(state: OrderingState) -> bool:
    lowest = state.lowest_held()
    if lowest is None:
        return False
    since = max(state.progress, state.held[str(lowest)]["since"])
    return time.time() - since > max_wait()


def _ordering_enter(message):
    content = message.content
    marker = content.pop(ORDERING_KEY, None) or {}
    if getattr(message, "_channels_ordering", None) is not None:
        return "nested"
    if "order" not in content:
        raise ValueError(
            f"enforce_ordering needs messages with an 'order' key (WebSocket messages); "
            f"the message on {message.channel.name!r} has none"
        )
    if message.reply_channel is None:
        raise ValueError("enforce_ordering needs messages with a reply_channel")
    order = int(content["order"])
    reply = message.reply_channel.name
    backend = message.channel_backend
    if marker.get("probe"):
        # Wait a little between looks so a stalled connection does not spin.
        pause = PROBE_INTERVAL - (time.time() - marker.get("sent", 0))
        if pause > 0:
            time.sleep(pause)
    lock_name, _ = _ordering_names(reply)
    with _connection_lock(backend, lock_name, LOCK_WAIT) as locked:
        if not locked:
            # Someone holds the lock far longer than a bookkeeping step takes
            # (a worker died holding it): retry later instead of blocking.
            logger.warning("enforce_ordering: lock of %s busy; message requeued", reply)
            if not _resend(backend, message.channel.name, content, **marker):
                raise ConsumeLater
            return SKIP
        state = OrderingState(reply, order)
        if marker.get("probe"):
            state.probe = False
            if state.held and state.lowest_held() == state.next:
                _dispatch_next(state, backend, reply)
            elif _stalled(state):
                _give_up_gap(state, backend, reply)
            _ensure_probe(state, backend, message.channel.name, content)
            state.save()
            return SKIP
        if order < state.next:
            if marker.get("resent"):
                # A second copy left by a worker that died while dispatching.
                logger.info("enforce_ordering: duplicate of order %d for %s dropped", order, reply)
                return SKIP
            logger.error(
                "enforce_ordering: message order %d of %s came after the wait for it ended; "
                "running it out of order",
                order,
                reply,
            )
            message._channels_ordering = "late"
            return ("late", order)
        if order > state.next:
            state.hold(order, message.channel.name, content)
            if _stalled(state):
                _give_up_gap(state, backend, reply)
            _ensure_probe(state, backend, message.channel.name, content)
            state.save()
            return SKIP
        # Its turn. A held copy of it may exist after a crash: drop it.
        state.held.pop(str(order), None)
        state.progress = time.time()
        if state.new or marker.get("resent"):
            state.save()
    message._channels_ordering = order
    return ("run", order)


def _ordering_exit(message, token, exc) -> None:
    if token == "nested":
        return
    kind, order = token
    if isinstance(exc, ConsumeLater):
        # The worker puts the message back; it is still the one expected.
        return
    if exc is None:
        # What the client sees counts: this message's replies must be on the
        # reply channel before the next message may start.
        save_channel_session_now(message)
        outbox = current_outbox()
        if outbox is not None:
            outbox.flush()
    if kind == "late":
        return
    reply = message.reply_channel.name
    backend = message.channel_backend
    lock_name, _ = _ordering_names(reply)
    with _connection_lock(backend, lock_name, LOCK_WAIT * 2) as locked:
        if not locked:
            logger.error(
                "enforce_ordering: could not record that order %d of %s ran; the "
                "connection resumes after CHANNELS_ORDERING_MAX_WAIT",
                order,
                reply,
            )
            return
        state = OrderingState(reply, order)
        if message.channel.name == "websocket.disconnect" and not state.held:
            state.delete()
            return
        if state.next == order:
            state.next = order + 1
            state.progress = time.time()
        _dispatch_next(state, backend, reply)
        state.save()


def enforce_ordering(func: Callable | None = None, *, slight: bool = False) -> Callable:
    """Run the messages of one WebSocket connection strictly in ``order``.

    Apply it to the ``websocket.connect``, ``websocket.receive`` and
    ``websocket.disconnect`` consumers of a connection. A message that comes
    before its turn (another worker still runs an earlier one) is held back
    in a session record, not lost; when the earlier message's consumer has
    returned *and its replies have been sent*, the next held message is put
    back on its channel. So consumers run, and their replies reach the
    socket, in the order the client sent.

    If a message never comes (it expired, or the worker running it died),
    the connection waits ``CHANNELS_ORDERING_MAX_WAIT`` seconds (30), logs an
    error, and goes on with the messages it holds. The consumer also gets
    ``message.channel_session``, as in Channels 1.x.
    """
    if slight:
        raise ValueError("slight ordering was removed in Channels 1.0; remove slight=True")
    if func is None:
        return enforce_ordering

    return consumer_decorator(channel_session(func), _ordering_enter, _ordering_exit)

