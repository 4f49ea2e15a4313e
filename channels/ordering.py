"""``enforce_ordering``: the WebSocket messages of one connection run in
their ``order``, however many workers take them (the state machine is drawn
in docs/architecture.rst, "The ordering state machine").

How: each connection has an ordering record (a session-engine record apart
from the channel session) holding the next expected order and an index of
the messages that came early; each early message's content is a session
record of its own, so holding one costs one small write however many are
held. The records are read and written only under a per-connection lock, a
message on a capacity-1 channel, which every backend grants atomically and
whose EXPIRY makes it a lease if a worker dies holding it. The consumer never
runs under the lock. After a message's consumer returns, its channel session
is saved and its outbox flushed *before* "next" advances, so its replies
reach the socket before those of the next message. Early messages are
re-sent before they are removed from the store, so a crash can at worst
leave a duplicate, which is recognised and dropped. A connection stalled on
a missing message waits at most ``CHANNELS_ORDERING_MAX_WAIT`` seconds
(default 30), then logs an error and goes on from the lowest message it holds.

Bounds: a connection holds at most ``CHANNELS_ORDERING_MAX_HELD`` messages
(100) and ``CHANNELS_ORDERING_MAX_HELD_BYTES`` encoded bytes of them (1 MiB,
or one message of any size); the message that would pass either is not held:
the socket is closed with 1013 (try again later), its held messages are
deleted, and its later messages are dropped unrun (its disconnect still
runs). The message whose turn has come, and the probe, are put back on their
channel even when it is full, up to twice its capacity, so a client that
keeps the channel full cannot keep its own next message out and stall the
connection while holding more and more.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .backoff import retry_while_full
from .decorators import SKIP, consumer_decorator
from .exceptions import ChannelFull, ConsumeLater
from .outbox import current_outbox
from .serialization import decode, encode
from .session_store import (
    KeyedSession,
    channel_key,
    channel_session,
    save_channel_session_now,
    session_engine,
)

logger = logging.getLogger("channels.sessions")

#: Key added to the content of the messages enforce_ordering re-sends.
ORDERING_KEY = "__ordering__"
#: Seconds a connection waits for a missing message before going on without it.
DEFAULT_MAX_WAIT = 30.0
#: Most messages one connection may hold back (CHANNELS_ORDERING_MAX_HELD).
DEFAULT_MAX_HELD = 100
#: Most encoded bytes one connection may hold back (CHANNELS_ORDERING_MAX_HELD_BYTES).
DEFAULT_MAX_HELD_BYTES = 1024 * 1024
#: Close code for a connection past a bound: 1013, "try again later".
OVERFLOW_CLOSE_CODE = 1013
#: Re-sent messages may fill their channel up to this many times its capacity.
RESEND_HEADROOM = 2
#: Closed connections each process remembers, so the messages a closed
#: flooder still has in the channel are dropped without a lock or a read.
CLOSED_CACHE_SIZE = 10_000
#: Seconds a worker waits for a connection's ordering lock before requeueing.
LOCK_WAIT = 5.0
#: Least seconds between two looks at a stalled connection by its probe.
PROBE_INTERVAL = 0.05


def max_wait() -> float:
    """``CHANNELS_ORDERING_MAX_WAIT`` (seconds), default 30."""
    return float(getattr(settings, "CHANNELS_ORDERING_MAX_WAIT", DEFAULT_MAX_WAIT))


def _positive_int_setting(name: str, default: int) -> int:
    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImproperlyConfigured(f"{name} must be a positive integer, not {value!r}")
    return value


def max_held() -> int:
    """``CHANNELS_ORDERING_MAX_HELD``: messages a connection may hold back (100)."""
    return _positive_int_setting("CHANNELS_ORDERING_MAX_HELD", DEFAULT_MAX_HELD)


def max_held_bytes() -> int:
    """``CHANNELS_ORDERING_MAX_HELD_BYTES``: encoded bytes a connection may
    hold back (1 MiB); one message of any size is always let in."""
    return _positive_int_setting("CHANNELS_ORDERING_MAX_HELD_BYTES", DEFAULT_MAX_HELD_BYTES)


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
    token = {"pid": os.getpid()}
    try:
        retry_while_full(
            lambda: backend.send_within(name, token, 1), wait, first_delay=0.001, max_delay=0.02
        )
    except ChannelFull:
        yield False
        return
    try:
        yield True
    finally:
        backend.receive_many([name])


class OrderingState:
    """What enforce_ordering knows of one connection, in a session record.

    ``next``: the order to run next. ``held``: the index of early messages,
    by order, each with its channel, encoded size and when it was held (the
    content is in a record of its own, see :meth:`hold`). ``progress``: when
    ``next`` last moved or its message started. ``probe``: whether a probe
    message is circulating. ``closed``: the connection went past a bound and
    its messages are dropped.
    """

    def __init__(self, reply_channel: str, order: int) -> None:
        self.reply_channel = reply_channel
        _, key = _ordering_names(reply_channel)
        self.engine = _ordering_engine()
        self.keyed = KeyedSession(key, self.engine)
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
        self.closed: bool = data.get("closed", False)

    def save(self) -> None:
        """Write the state back."""
        self.keyed.store["state"] = {
            "next": self.next,
            "held": self.held,
            "progress": self.progress,
            "probe": self.probe,
            "closed": self.closed,
        }
        self.keyed.save()

    def delete(self) -> None:
        """Forget the connection (after its disconnect), held messages too."""
        for order in list(self.held):
            self.forget(int(order))
        self.keyed.delete()

    def _held_record(self, order: int) -> KeyedSession:
        return KeyedSession(channel_key("orh", f"{self.reply_channel}#{order}"), self.engine)

    def hold(self, order: int, channel: str, data: bytes) -> None:
        """Keep an early message (``data``: its encoded content) until its turn.

        The content goes in a record of its own, written before the index
        names it; it expires by itself long after the bounded wait would
        have given up on it, so a crash cannot leave it forever.
        """
        record = self._held_record(order)
        record.store["content"] = base64.b64encode(data).decode("ascii")
        record.store.set_expiry(math.ceil(4 * max_wait()) + 3600)
        record.save()
        self.held[str(order)] = {"channel": channel, "bytes": len(data), "since": time.time()}

    def held_bytes(self) -> int:
        """Encoded bytes of the messages held back."""
        return sum(entry.get("bytes", 0) for entry in self.held.values())

    def lowest_held(self) -> int | None:
        """The smallest order held back, if any."""
        return min(map(int, self.held), default=None)

    def content_of(self, order: int) -> dict | None:
        """The content of a held message; None if its record is gone."""
        entry = self.held[str(order)]
        # Records written before held messages had records of their own
        # carry the content in the index.
        encoded = entry.get("content") or self._held_record(order).store.get("content")
        return None if encoded is None else decode(base64.b64decode(encoded))

    def forget(self, order: int) -> None:
        """Drop a held message from the index and the store."""
        if self.held.pop(str(order), None) is not None:
            self._held_record(order).delete()


class _ClosedConnections:
    """The reply channels this process saw closed past a bound (most recent
    CLOSED_CACHE_SIZE). Closing is final, so remembering it is always right."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._names: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, reply: str) -> None:
        with self._lock:
            self._names[reply] = None
            self._names.move_to_end(reply)
            while len(self._names) > self.size:
                self._names.popitem(last=False)

    def __contains__(self, reply: str) -> bool:
        with self._lock:
            return reply in self._names


_closed = _ClosedConnections(CLOSED_CACHE_SIZE)


def _closed_connection(message, order: int):
    """What to do with a message of a connection closed past a bound."""
    if message.channel.name != "websocket.disconnect":
        logger.debug(
            "enforce_ordering: %s is closed; order %d dropped", message.reply_channel.name, order
        )
        return SKIP
    # The socket is gone: its disconnect consumer (group discards, clean-up)
    # runs at once, whatever it held.
    message._channels_ordering = order
    return ("closed", order)


def _send_past_capacity(backend, channel: str, content: dict) -> bool:
    """Send ``content`` even if ``channel`` is full, up to RESEND_HEADROOM
    times its capacity; False if it is fuller still.

    For what enforce_ordering re-sends (the message was counted once against
    the capacity when the interface server sent it) and for the close of an
    overflowing socket: a client that keeps a channel full must not be able
    to keep either out.
    """
    try:
        backend.send_within(channel, content, RESEND_HEADROOM * backend.capacity_for(channel))
        return True
    except ChannelFull:
        return False


def _resend(backend, channel: str, content: dict, **marker: Any) -> bool:
    """Put a message back on its channel with an ordering marker."""
    if _send_past_capacity(backend, channel, {**content, ORDERING_KEY: marker}):
        return True
    logger.warning("enforce_ordering: %s is full even past its capacity; will retry", channel)
    return False


def _dispatch_next(state: OrderingState, backend, reply: str) -> None:
    """Send the held message whose turn it is, then drop it from the store.

    Sent before it is dropped: if the worker dies in between, the message
    exists twice, and the copy that comes late is recognised (its order is
    below ``next``) and discarded. Nothing is lost. A failed send is retried
    by the connection's next message or probe.
    """
    entry = state.held.get(str(state.next))
    if entry is None:
        return
    content = state.content_of(state.next)
    if content is None:
        logger.error(
            "enforce_ordering: the held message order %d of %s is gone from the session "
            "store; the connection waits for it as for a lost message",
            state.next,
            reply,
        )
        state.forget(state.next)
        return
    if _resend(backend, entry["channel"], content, resent=True):
        state.forget(state.next)
    else:
        _ensure_probe(state, backend, entry["channel"], content)


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


def _move_on(state: OrderingState, backend, reply: str) -> None:
    """Dispatch the message whose turn it is if it is held (again, if an
    earlier send failed), else give up on a missing one past the wait."""
    if str(state.next) in state.held:
        _dispatch_next(state, backend, reply)
    elif _stalled(state):
        _give_up_gap(state, backend, reply)


def _over_bounds(state: OrderingState, size: int) -> bool:
    """Whether holding one more message of ``size`` bytes passes a bound."""
    if len(state.held) >= max_held():
        return True
    # One message is always let in, whatever its size (the interface server
    # and MAX_MESSAGE_SIZE bound that).
    return bool(state.held) and state.held_bytes() + size > max_held_bytes()


def _close_overflowing(message, state: OrderingState, order: int, size: int) -> None:
    """Close a connection that went past a bound; drop what it holds."""
    reply = message.reply_channel.name
    logger.warning(
        "enforce_ordering: connection %s sent order %d while holding %d messages (%d bytes) "
        "waiting for order %d; closing it with %d (CHANNELS_ORDERING_MAX_HELD=%d, "
        "CHANNELS_ORDERING_MAX_HELD_BYTES=%d)",
        reply,
        order,
        len(state.held),
        state.held_bytes() + size,
        state.next,
        OVERFLOW_CLOSE_CODE,
        max_held(),
        max_held_bytes(),
    )
    if not _send_past_capacity(message.channel_backend, reply, {"close": OVERFLOW_CLOSE_CODE}):
        logger.error("enforce_ordering: could not send the close to %s", reply)
    for held in list(state.held):
        state.forget(int(held))
    state.closed = True
    state.probe = False
    state.save()
    _closed.add(reply)


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
    if reply in _closed:
        return _closed_connection(message, order)
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
        if state.closed:
            _closed.add(reply)
            return _closed_connection(message, order)
        if marker.get("probe"):
            state.probe = False
            _move_on(state, backend, reply)
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
            if str(order) in state.held:
                return SKIP  # a second copy of a message already held
            data = encode(content)
            if _over_bounds(state, len(data)):
                _close_overflowing(message, state, order, len(data))
                return SKIP
            state.hold(order, message.channel.name, data)
            _move_on(state, backend, reply)
            _ensure_probe(state, backend, message.channel.name, content)
            state.save()
            return SKIP
        # Its turn. A held copy of it may exist after a crash: drop it.
        had_copy = str(order) in state.held
        state.forget(order)
        state.progress = time.time()
        if state.new or marker.get("resent") or had_copy:
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
        if state.closed:
            if message.channel.name == "websocket.disconnect":
                # Kept a while as a tombstone, so the closed socket's messages
                # still in the channel are dropped rather than held afresh;
                # they expire from the channel within the backend's EXPIRY.
                state.keyed.store.set_expiry(math.ceil(backend.expiry) + 60)
                state.save()
            return
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
