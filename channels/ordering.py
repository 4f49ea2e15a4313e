"""``enforce_ordering``: the WebSocket messages of one connection run in
their ``order``, however many workers take them.

How: each connection has an ordering record (a session-engine record apart
from the channel session) holding the next expected order and the messages
that came early. It is read and written only under a per-connection lock, a
message on a capacity-1 channel, which every backend grants atomically and
whose EXPIRY makes it a lease if a worker dies holding it. The consumer never
runs under the lock. After a message's consumer returns, its channel session
is saved and its outbox flushed *before* "next" advances, so its replies
reach the socket before those of the next message. Early messages are written
into the record (never held in memory) and re-sent before they are removed
from it, so a crash can at worst leave a duplicate, which is recognised and
dropped. A connection stalled on a missing message waits at most
``CHANNELS_ORDERING_MAX_WAIT`` seconds (default 30), then logs an error and
goes on from the lowest message it holds.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType
from typing import Any

from django.conf import settings

from .decorators import SKIP, consumer_decorator
from .exceptions import ChannelFull, ConsumeLater
from .outbox import current_outbox
from .serialization import decode, encode
from .sessions import (
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
