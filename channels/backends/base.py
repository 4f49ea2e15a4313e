"""The channel backend contract, stated once.

Every backend subclasses :class:`BaseChannelBackend` and implements the
underscore methods; the public methods here validate names and messages,
encode with :mod:`channels.serialization`, and so behave the same everywhere.
The shared conformance suite (``tests/backends/conformance.py``) checks each
promise below against every backend.

Promises:

* ``send(channel, message)`` queues a message; ``send_many(items)`` queues
  several in order, with one result per item; ``send_within(channel,
  message, capacity)`` is ``send`` against a capacity the caller gives (a
  capacity-1 channel is a cross-process try-lock). Delivery is **at most once**
  and **FIFO per channel**. A channel holding ``capacity`` messages refuses
  more with :class:`~channels.exceptions.ChannelFull`.
  ``send_encoded_many(items)`` is ``send_many`` for messages already
  encoded with ``encode`` (a sender retrying a full channel keeps only the
  bytes).
* ``receive_batch(channels, limit, block)`` takes up to ``limit`` messages:
  the first as ``receive_many`` would, then what else is already waiting,
  without waiting. Meant for a process inbox (an interface server's loop)
  or a channel one process drains, where backends hand out in one call what
  one round trip fetched (it would let one of several receivers of a shared
  channel sit on messages another could take, so workers do not use it).
* ``send_and_receive(items, channels, block)`` is a worker's turn in one
  call: send a consumer's messages in order, stopping at the first that
  fails, and, if all went, take the next message as ``receive_many`` would.
  Backends that can do both in one round trip (Redis) do.
* A message not received within ``expiry`` seconds is never delivered.
* ``receive_many(channels, block)`` takes the next message from any of the
  channels, or returns ``(None, None)``; with ``block=True`` it waits up to
  ``timeout`` (default ``BLOCK_TIMEOUT``) seconds without busy polling.
  Receiving on an inbox name ``"prefix!"`` gets messages sent to every
  ``"prefix!suffix"`` channel, returned under their full names.
* Groups: ``group_add``/``group_discard`` manage membership, which expires
  ``group_expiry`` seconds after the last ``group_add``; ``send_group``
  sends to every live member, skipping full members without failing the rest.
* ``new_channel(prefix)`` returns a name no one else holds or can guess.
* ``flush()`` empties every channel and group of this backend and touches
  nothing of any other (another PREFIX, alias or application);
  ``flush_scope()`` says exactly what it deletes, for ``channels flush``.
* All methods are synchronous and thread-safe.

Operations (the ``"ops"`` extension, read by the ``channels`` CLI):
``channel_stats()`` lists waiting messages per channel, ``server_stats()``
the servers behind the backend (role, reachable, failovers, memory), and
``record_heartbeat``/``heartbeats`` keep small, expiring records of the live
workers and interface servers.

Holding capacity (the ``"hold"`` extension, for back-pressure on reply
channels): ``hold(channel, count)`` makes ``count`` more messages count
against a process-local channel's capacity without queueing any, so senders
find it full sooner; ``release(channel, count)`` gives back what was held.
An interface server holds a reply channel while its HTTP client is not
reading, so the worker's sends hit a full channel instead of filling the
server's memory (see docs/security.rst). A receiver must release no more
than it held. A backend may drop a hold once ``expiry`` seconds have
passed, as it drops unread messages, so a receiver that dies cannot leave a
channel full for good.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import ChannelFull, ImproperlyConfiguredBackend, MessageTooLarge
from ..names import (
    is_process_local,
    new_channel_name,
    validate_channel_name,
    validate_group_name,
)
from ..serialization import decode, encode

Received = tuple[str, dict] | tuple[None, None]


@dataclass(frozen=True)
class Exchange:
    """What :meth:`BaseChannelBackend.send_and_receive` did.

    The first ``sent`` items were queued. If ``error`` is set, item number
    ``sent`` failed with it (the exception ``send`` would have raised) and
    the items after it were not tried, nor was anything received. Otherwise
    ``channel`` and ``message`` are what ``receive_many`` would have
    returned (both None if nothing came).
    """

    sent: int
    error: Exception | None = None
    channel: str | None = None
    message: dict | None = None


@dataclass(frozen=True)
class ChannelStats:
    """What ``channels status`` shows of one channel."""

    name: str
    depth: int
    capacity: int
    oldest_age: float | None  # seconds the oldest waiting message has waited


@dataclass(frozen=True)
class ServerStats:
    """What ``channels status`` shows of one server (a Redis shard or node)."""

    name: str  # the shard as configured (its place on the hash ring)
    address: str | None  # where it is now (a Sentinel shard's current primary)
    role: str | None  # "master", "slave", ... as the server says
    reachable: bool
    failovers: int | None  # Sentinel shards: failovers the sentinels have made
    memory: int | None  # bytes the server uses


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfiguredBackend(f"{name} must be a positive number, not {value!r}")
    return value


def _holdable(channel: str) -> str:
    validate_channel_name(channel)
    if not is_process_local(channel):
        raise ValueError(f"only a process-local channel (name!suffix) can be held, not {channel!r}")
    return channel


def _hold_count(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ValueError(f"a hold counts a positive int of messages, not {count!r}")
    return count


def _given_capacity(capacity: Any) -> int:
    """A capacity passed to a send (not configured): a positive int."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
        raise ValueError(f"capacity must be a positive int, not {capacity!r}")
    return capacity


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ImproperlyConfiguredBackend(f"{name} must be a positive integer, not {value!r}")
    return value


class BaseChannelBackend:
    """Validation, options and bookkeeping shared by every backend.

    Options are the upper-case keys of a ``CHANNEL_BACKENDS`` entry:

    ``EXPIRY`` (60)
        seconds a message waits before it is dropped unread.
    ``GROUP_EXPIRY`` (86400)
        seconds a group membership lives after its last ``group_add``.
    ``CAPACITY`` (100)
        messages a channel holds before ``send`` raises ``ChannelFull``.
    ``CHANNEL_CAPACITY`` ({})
        per-channel overrides: ``{"http.request": 200, "websocket.*": 500}``
        (glob patterns, first match wins).
    ``MAX_MESSAGE_SIZE`` (8 MiB)
        largest encoded message ``send`` accepts.
    ``BLOCK_TIMEOUT`` (1.0)
        how long a blocking receive waits before returning ``(None, None)``.

    A subclass lists its own extra option names in ``extra_options``.
    """

    #: The errors ``send`` raises, also reachable from the backend as ASGI 1.0
    #: channel layers offered them (``except message.channel_layer.ChannelFull``).
    ChannelFull = ChannelFull
    MessageTooLarge = MessageTooLarge
    #: Features beyond the core contract, as named by the ASGI 1.0 spec.
    extensions: tuple[str, ...] = ("groups", "flush")
    #: Upper-case option names this backend accepts besides the common ones.
    extra_options: tuple[str, ...] = ()

    common_options = (
        "EXPIRY",
        "GROUP_EXPIRY",
        "CAPACITY",
        "CHANNEL_CAPACITY",
        "MAX_MESSAGE_SIZE",
        "BLOCK_TIMEOUT",
    )

    def __init__(self, alias: str = "default", **options: Any) -> None:
        unknown = sorted(set(options) - set(self.common_options) - set(self.extra_options))
        if unknown:
            accepted = ", ".join(sorted(self.common_options + self.extra_options))
            raise ImproperlyConfiguredBackend(
                f"{type(self).__name__} does not take option(s) {', '.join(unknown)}; "
                f"it accepts {accepted}"
            )
        self.alias = alias
        self.expiry = _positive_number("EXPIRY", options.get("EXPIRY", 60))
        self.group_expiry = _positive_number("GROUP_EXPIRY", options.get("GROUP_EXPIRY", 86400))
        self.capacity = _positive_int("CAPACITY", options.get("CAPACITY", 100))
        self.max_message_size = _positive_int(
            "MAX_MESSAGE_SIZE", options.get("MAX_MESSAGE_SIZE", 8 * 1024 * 1024)
        )
        self.block_timeout = _positive_number("BLOCK_TIMEOUT", options.get("BLOCK_TIMEOUT", 1.0))
        overrides = options.get("CHANNEL_CAPACITY", {})
        if not isinstance(overrides, dict):
            raise ImproperlyConfiguredBackend(
                f"CHANNEL_CAPACITY must be a dict of pattern: capacity, not {overrides!r}"
            )
        self.channel_capacity = [
            (pattern, _positive_int(f"CHANNEL_CAPACITY[{pattern!r}]", cap))
            for pattern, cap in overrides.items()
        ]
        self.options = options
        self._stats_lock = threading.Lock()
        #: Counters operators read: ``group_send_skipped`` counts group
        #: members that a ``send_group`` could not reach (full channels).
        self.stats = {"group_send_skipped": 0}

    # --- the public contract ----------------------------------------------

    def send(self, channel: str, message: dict) -> None:
        """Queue ``message`` on ``channel``; raise ``ChannelFull`` at capacity."""
        validate_channel_name(channel)
        self._send(channel, self.encode(message), self.capacity_for(channel))

    def send_within(self, channel: str, message: dict, capacity: int) -> None:
        """Queue ``message`` on ``channel`` unless ``capacity`` messages wait there.

        :meth:`send` with the capacity given by the caller instead of the
        configured one, checked as atomically across processes as ``send``'s.
        With ``capacity=1`` a channel is a try-lock that expires with EXPIRY
        (what :mod:`channels.ordering` holds per connection); a capacity above
        the configured one lets a message that was already counted once back
        in (its re-sends).
        """
        validate_channel_name(channel)
        self._send(channel, self.encode(message), _given_capacity(capacity))

    def send_many(self, items: Sequence[tuple[str, dict]]) -> list[Exception | None]:
        """Send several messages, in order; one result per item.

        A result is None if the message was queued, else the exception
        :meth:`send` would have raised for it (``ChannelFull``, a bad name or
        message, ``BackendUnavailable``); one item failing does not stop the
        others. Backends batch the round trips (Redis pipelines them), which
        is what an interface server's single sender thread relies on.
        """
        results: list[Exception | None] = [None] * len(items)
        encoded: list[tuple[int, str, bytes]] = []
        for index, (channel, message) in enumerate(items):
            try:
                encoded.append((index, channel, self.encode(message)))
            except Exception as exc:
                results[index] = exc
        outcomes = self.send_encoded_many([(channel, data) for _, channel, data in encoded])
        for (index, *_), outcome in zip(encoded, outcomes, strict=True):
            results[index] = outcome
        return results

    def send_encoded_many(
        self, items: Sequence[tuple[str, bytes] | tuple[str, bytes, int | None]]
    ) -> list[Exception | None]:
        """:meth:`send_many` for messages already encoded with :meth:`encode`.

        For a sender that may try one message many times (an interface
        server retrying a full channel): it encodes each message once and
        keeps only the bytes, instead of a message and a fresh encoding per
        try. An item may carry a third element, the capacity to check
        instead of the channel's own (as :meth:`send_within`; None: the
        channel's own). Results are as :meth:`send_many`'s.
        """
        results: list[Exception | None] = [None] * len(items)
        prepared: list[tuple[int, str, bytes, int]] = []
        for index, (channel, data, *within) in enumerate(items):
            try:
                validate_channel_name(channel)
                given = within[0] if within else None
                capacity = self.capacity_for(channel) if given is None else _given_capacity(given)
                prepared.append((index, channel, data, capacity))
            except Exception as exc:
                results[index] = exc
        outcomes = self._send_many([(channel, data, cap) for _, channel, data, cap in prepared])
        for (index, *_), outcome in zip(prepared, outcomes, strict=True):
            results[index] = outcome
        return results

    def send_and_receive(
        self,
        items: Sequence[tuple[str, dict]],
        channels: Iterable[str],
        block: bool = False,
        timeout: float | None = None,
    ) -> Exchange:
        """Send ``items`` in order, then receive from ``channels``.

        The sends stop at the first failure, so a channel never gets a later
        message of the batch without the earlier one (what a consumer's
        outbox needs); the receive happens only if every send went. Delivery
        stays at most once: the receive takes one message, as
        ``receive_many`` does, never more for later. Backends override the
        underscore method to do it all in fewer round trips.
        """
        names = [validate_channel_name(c, receive=True) for c in channels]
        prepared: list[tuple[str, bytes, int]] = []
        refused: Exception | None = None
        for channel, message in items:
            try:
                validate_channel_name(channel)
                prepared.append((channel, self.encode(message), self.capacity_for(channel)))
            except Exception as exc:
                refused = exc
                break
        wait = (self.block_timeout if timeout is None else timeout) if block else 0.0
        if refused is not None:
            # Send what came before the bad item, receive nothing.
            sent, error, _, _ = self._send_and_receive(prepared, [], 0.0)
            return Exchange(sent, error or refused)
        sent, error, channel, data = self._send_and_receive(prepared, names, wait)
        if error is not None or channel is None:
            return Exchange(sent, error)
        return Exchange(sent, None, channel, decode(data))

    def receive_many(
        self, channels: Iterable[str], block: bool = False, timeout: float | None = None
    ) -> Received:
        """Take the next message from any of ``channels``.

        Returns ``(channel, message)``, or ``(None, None)`` if nothing came
        (at once when ``block`` is false, after ``timeout`` seconds otherwise).
        """
        names = [validate_channel_name(c, receive=True) for c in channels]
        if not names:
            return None, None
        wait = (self.block_timeout if timeout is None else timeout) if block else 0.0
        channel, data = self._receive(names, wait)
        if channel is None:
            return None, None
        return channel, decode(data)

    def receive_batch(
        self,
        channels: Iterable[str],
        limit: int = 100,
        block: bool = False,
        timeout: float | None = None,
    ) -> list[tuple[str, dict]]:
        """Take up to ``limit`` messages from ``channels``, oldest first.

        The first is taken as :meth:`receive_many` takes one (waiting up to
        ``timeout`` if ``block``); the rest only if already waiting. Returns
        ``[]`` if nothing came. Each message is still taken at most once.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, not {limit!r}")
        names = [validate_channel_name(c, receive=True) for c in channels]
        if not names:
            return []
        wait = (self.block_timeout if timeout is None else timeout) if block else 0.0
        taken = self._receive_batch(names, limit, wait)
        return [(channel, decode(data)) for channel, data in taken]

    def receive(self, channels: Iterable[str], block: bool = False) -> Received:
        """ASGI spelling of :meth:`receive_many`."""
        return self.receive_many(channels, block=block)

    def new_channel(self, prefix: str) -> str:
        """Return a fresh, unguessable channel name beginning with ``prefix``."""
        return new_channel_name(prefix)

    def group_add(self, group: str, channel: str) -> None:
        """Add ``channel`` to ``group`` (or renew its membership)."""
        self._group_add(validate_group_name(group), validate_channel_name(channel))

    def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; a no-op if it is not a member."""
        self._group_discard(validate_group_name(group), validate_channel_name(channel))

    def group_channels(self, group: str) -> list[str]:
        """The live members of ``group``."""
        return self._group_channels(validate_group_name(group))

    def send_group(self, group: str, message: dict) -> int:
        """Send ``message`` to every live member of ``group``.

        Members whose channel is full are skipped and counted in
        ``stats["group_send_skipped"]``. Returns how many members got it.
        """
        validate_group_name(group)
        sent, skipped = self._send_group(group, self.encode(message))
        if skipped:
            with self._stats_lock:
                self.stats["group_send_skipped"] += skipped
        return sent

    def flush(self) -> None:
        """Drop every message and group membership of this backend."""
        self._flush()

    def flush_scope(self) -> list[str]:
        """Lines saying exactly what :meth:`flush` deletes (``channels flush``
        shows them before asking); backends name their keys or rows."""
        return [f"every queued message, group membership and heartbeat of {self!r}"]

    def close(self) -> None:
        """Release connections; the backend may be used again afterwards."""

    # --- operations --------------------------------------------------------

    def channel_stats(self) -> list[ChannelStats]:
        """Every channel with messages waiting (process-local ones by inbox)."""
        return [
            ChannelStats(name, depth, self.capacity_for(name), age)
            for name, depth, age in self._channel_stats()
        ]

    def server_stats(self) -> list[ServerStats]:
        """One row per server the backend talks to (none for backends that
        keep no servers of their own). Never raises for an unreachable
        server: that is what the row says."""
        return []

    def record_heartbeat(self, process: dict, ttl: float) -> None:
        """Store ``process`` (a message-like dict with a str ``"id"``) for ``ttl`` seconds.

        A later heartbeat with the same id replaces it.
        """
        if not isinstance(process.get("id"), str):
            raise ValueError("a heartbeat needs a str 'id'")
        self._record_heartbeat(process["id"], self.encode(process), ttl)

    def heartbeats(self) -> list[dict]:
        """The unexpired heartbeats, oldest id first."""
        return [decode(data) for data in self._heartbeats()]

    # --- holding capacity ("hold" extension) -------------------------------

    def hold(self, channel: str, count: int) -> None:
        """Count ``count`` more messages against process-local ``channel``.

        Nothing is queued: senders just find the channel full sooner, until
        :meth:`release`. Only backends listing ``"hold"`` in
        :attr:`extensions` implement it.
        """
        self._hold(_holdable(channel), _hold_count(count))

    def release(self, channel: str, count: int) -> None:
        """Stop counting ``count`` held messages against ``channel``."""
        self._release(_holdable(channel), _hold_count(count))

    # --- helpers for subclasses -------------------------------------------

    def encode(self, message: dict) -> bytes:
        """Encode ``message``, refusing it if larger than MAX_MESSAGE_SIZE."""
        data = encode(message)
        if len(data) > self.max_message_size:
            raise MessageTooLarge(
                f"message is {len(data)} bytes encoded; this backend's MAX_MESSAGE_SIZE "
                f"is {self.max_message_size} (send large bodies in chunks)"
            )
        return data

    def capacity_for(self, channel: str) -> int:
        """The capacity of ``channel``: the first matching override, or CAPACITY."""
        for pattern, capacity in self.channel_capacity:
            if fnmatch.fnmatchcase(channel, pattern):
                return capacity
        return self.capacity

    @staticmethod
    def full_error(channel: str, capacity: int) -> ChannelFull:
        """The error ``send`` raises when ``channel`` is at ``capacity``."""
        return ChannelFull(f"channel {channel!r} is full ({capacity} messages waiting)")

    # --- what a backend implements ----------------------------------------

    def _send(self, channel: str, data: bytes, capacity: int) -> None:
        raise NotImplementedError

    def _send_many(self, items: list[tuple[str, bytes, int]]) -> list[Exception | None]:
        """Send ``(channel, data, capacity)`` items in order; the default
        makes one ``_send`` each."""
        results: list[Exception | None] = []
        for channel, data, capacity in items:
            try:
                self._send(channel, data, capacity)
                results.append(None)
            except Exception as exc:
                results.append(exc)
        return results

    def _receive(
        self, channels: list[str], timeout: float
    ) -> tuple[str, bytes] | tuple[None, None]:
        """Pop one message; wait up to ``timeout`` seconds (0: don't wait)."""
        raise NotImplementedError

    def _receive_batch(
        self, channels: list[str], limit: int, timeout: float
    ) -> list[tuple[str, bytes]]:
        """Up to ``limit`` messages: one ``_receive`` waiting up to
        ``timeout``, then non-blocking ones while messages come."""
        out: list[tuple[str, bytes]] = []
        wait = timeout
        while len(out) < limit:
            channel, data = self._receive(channels, wait)
            if channel is None:
                break
            out.append((channel, data))
            wait = 0.0
        return out

    def _send_and_receive(
        self, items: list[tuple[str, bytes, int]], channels: list[str], timeout: float
    ) -> tuple[int, Exception | None, str | None, bytes | None]:
        """Send ``(channel, data, capacity)`` items until one fails, then, if
        none failed and ``channels`` is not empty, ``_receive``. Returns
        ``(sent, error, channel, data)``. The default makes one call each."""
        for sent, (channel, data, capacity) in enumerate(items):
            try:
                self._send(channel, data, capacity)
            except Exception as exc:
                return sent, exc, None, None
        if not channels:
            return len(items), None, None, None
        channel, data = self._receive(channels, timeout)
        return len(items), None, channel, data

    def _group_add(self, group: str, channel: str) -> None:
        raise NotImplementedError

    def _group_discard(self, group: str, channel: str) -> None:
        raise NotImplementedError

    def _group_channels(self, group: str) -> list[str]:
        raise NotImplementedError

    def _send_group(self, group: str, data: bytes) -> tuple[int, int]:
        """Send to every member; return ``(sent, skipped)``.

        The default loops over members; backends override it to fan out in
        one round trip.
        """
        sent = skipped = 0
        for channel in self._group_channels(group):
            try:
                self._send(channel, data, self.capacity_for(channel))
                sent += 1
            except ChannelFull:
                skipped += 1
        return sent, skipped

    def _flush(self) -> None:
        raise NotImplementedError

    def _channel_stats(self) -> list[tuple[str, int, float | None]]:
        """``(channel or inbox, depth, oldest age in seconds)`` per non-empty channel."""
        raise NotImplementedError(f"{type(self).__name__} does not report channel stats")

    def _record_heartbeat(self, ident: str, data: bytes, ttl: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not keep heartbeats")

    def _hold(self, channel: str, count: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot hold capacity")

    def _release(self, channel: str, count: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot hold capacity")

    def _heartbeats(self) -> list[bytes]:
        raise NotImplementedError(f"{type(self).__name__} does not keep heartbeats")

    # --- Channels 1.x ---------------------------------------------------------

    _router = None

    @property
    def router(self):
        """The :class:`~channels.routing.Router` of this alias's ROUTING
        (Channels 1.x ``channel_layers[alias].router``).

        Built on first use. ``runworker`` and ``runserver`` replace it with the
        router their workers serve, which adds the default ``http.request``
        route (as 1.x's ``check_default()`` did).
        """
        if self._router is None:
            from ..routing import Router
            from .registry import channel_backends

            self._router = Router(channel_backends.config(self.alias).get("ROUTING", []))
        return self._router

    @router.setter
    def router(self, router) -> None:
        self._router = router

    def __repr__(self) -> str:
        return f"<{type(self).__name__} alias={self.alias!r}>"
