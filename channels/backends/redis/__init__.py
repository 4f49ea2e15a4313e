"""The Redis channel backend, for production: one or many Redis servers.

Configure it as::

    CHANNEL_BACKENDS = {
        "default": {
            "BACKEND": "channels.backends.redis.RedisChannelBackend",
            "HOSTS": ["redis://10.0.0.1:6379/0", "redis://:secret@10.0.0.2:6379/1"],
            "PREFIX": "myproject:",          # default "channels:"
            # optional: CAPACITY, CHANNEL_CAPACITY, EXPIRY, GROUP_EXPIRY,
            # BLOCK_TIMEOUT, MAX_MESSAGE_SIZE, SYMMETRIC_ENCRYPTION_KEYS,
            # CONNECTION_KWARGS, SEND_RETRY_TIME
        },
    }

How it stores things (see :mod:`.scripts` for the key layout): every channel
is a Redis list, every process inbox ``name!`` one list shared by all its
``name!suffix`` channels, every group a sorted set of member -> expiry.
Sends, capacity checks, expiry purges and group fan-outs are Lua scripts, so
concurrent senders cannot overshoot a capacity. Every key carries a TTL a
little longer than the data in it can live, so abandoned reply channels,
dead inboxes and forgotten groups vanish by themselves.

Sharding: with several HOSTS, a plain channel lives on the server its name
hashes to on a consistent-hash ring (:mod:`.sharding`), a process-local
channel on the server of its inbox name (so a process waits on one key), a
group on the server of its group name. A group send reads the members on the
group's server, then sends one Lua fan-out to each server holding members:
one round trip per server (all in a single round trip with one server).

Receiving from several servers at once: first one non-blocking pop on each
server (starting with a different server each call, for fairness). If all
are empty, one thread per server waits in a ``BLPOP`` on that server's keys
plus a fresh wake-up key; the first message to arrive wins, the other waits
are ended by pushing a token onto their wake-up keys, and a message another
server handed over in the same instant is pushed back to the head of its
list, where the next receive finds it first. So nothing that was popped is
dropped, and nothing polls: each thread sleeps in Redis. (Losing the
connection *while* Redis sends a popped message back loses that message;
that is at-most-once delivery.)

Faults:

* ``send`` and ``send_group`` retry a server they cannot connect to for
  ``SEND_RETRY_TIME`` seconds (2) and then raise
  :class:`~channels.exceptions.BackendUnavailable`. If the connection drops
  after the request went out, they raise at once (saying the message may or
  may not be queued) instead of retrying, since a retry could deliver it twice.
* ``receive_many`` never raises for connection trouble. While a server is
  unreachable it waits (backing off from 0.05 s up to 1 s between attempts)
  and returns ``(None, None)`` when its timeout is up, exactly as if no
  message had come, and logs one warning per outage on the
  ``channels.backends.redis`` logger; a worker loop just goes on receiving
  and serves the first message sent once Redis is back (within about a
  second). Group calls retry for SEND_RETRY_TIME and then raise
  BackendUnavailable.
* Blocking pops wait at most 5 s per call (longer timeouts loop) and read
  their reply with that wait plus 2 s as socket timeout, so redis-py's 5 s
  socket timeout can never cut off a healthy blocking pop
  (django/channels_redis#422), while a dead connection is noticed in seconds.

What a Redis restart without persistence loses: every message waiting in
every channel on that server, every group membership stored there (clients
re-join on their next ``group_add``; interface servers usually re-add on
connect), and the per-channel counters (rebuilt as new messages come). A
message popped by a receiver at the moment the connection dropped is lost
too. Nothing else: channel names stay valid, inboxes are recreated by the
next send, and no process needs restarting.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from ...exceptions import BackendUnavailable, ImproperlyConfiguredBackend
from ...names import inbox_of
from ..base import BaseChannelBackend
from .blocking import MAX_BLOCK, MIN_BLOCK, READ_MARGIN, blpop_timeout, wait_on_shards
from .connection import Shard, ShardDown, default_connection_kwargs, parse_hosts
from .crypto import Sealer, validate_keys
from .keys import KEY_FAMILIES, family_pattern, glob_escape, is_own_key
from .scripts import SCRIPTS
from .sharding import HashRing

__all__ = ["RedisChannelBackend"]

logger = logging.getLogger("channels.backends.redis")

T = TypeVar("T")

_SEND, _POP, _ACK = SCRIPTS["send"], SCRIPTS["pop"], SCRIPTS["ack"]
_POP_BATCH, _SEND_POP = SCRIPTS["pop_batch"], SCRIPTS["send_pop"]
_SEND_EACH = SCRIPTS["send_each"]
#: Messages taken from a process inbox per round trip when it is the only
#: channel received (an interface server's loop): a group message to 1,000
#: sockets of one process then costs ten round trips, not a thousand.
INBOX_BATCH = 100


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisChannelBackend(BaseChannelBackend):
    """Channels in Redis lists, sharded over ``HOSTS`` (see the module docs).

    Extra options:

    ``HOSTS`` (``["redis://localhost:6379/0"]``)
        Redis servers; URLs, ``(host, port)`` pairs or dicts.
    ``HOST``, ``PORT``
        a single server, instead of HOSTS.
    ``PREFIX`` (``"channels:"``)
        start of every key, so several projects can share one Redis (end it
        with ``:``); ``flush()`` deletes only this backend's own keys (see
        :meth:`~RedisChannelBackend.flush_scope`).
    ``SYMMETRIC_ENCRYPTION_KEYS``
        list of secrets: message bodies are encrypted with the first and
        decrypted with any (needs the ``redis-crypto`` extra).
    ``CONNECTION_KWARGS``
        dict passed to every redis-py connection pool.
    ``SEND_RETRY_TIME`` (2)
        seconds a send keeps trying to connect before BackendUnavailable.
    """

    extra_options = (
        "HOSTS",
        "HOST",
        "PORT",
        "PREFIX",
        "SYMMETRIC_ENCRYPTION_KEYS",
        "CONNECTION_KWARGS",
        "SEND_RETRY_TIME",
    )

    def __init__(self, alias: str = "default", **options: Any) -> None:
        super().__init__(alias, **options)
        specs = parse_hosts(options)
        prefix = options.get("PREFIX", "channels:")
        if not isinstance(prefix, str) or not prefix:
            raise ImproperlyConfiguredBackend(f"PREFIX must be a non-empty str, not {prefix!r}")
        self.prefix = prefix
        retry = options.get("SEND_RETRY_TIME", 2.0)
        if isinstance(retry, bool) or not isinstance(retry, int | float) or retry < 0:
            raise ImproperlyConfiguredBackend(
                f"SEND_RETRY_TIME must be a number of seconds >= 0, not {retry!r}"
            )
        self.send_retry_time = float(retry)
        keys = options.get("SYMMETRIC_ENCRYPTION_KEYS")
        self._sealer = Sealer(validate_keys(keys)) if keys is not None else None
        common = default_connection_kwargs(options.get("CONNECTION_KWARGS", {}))
        self.shards = [Shard(spec, common) for spec in specs]
        self._ring = HashRing([shard.ident for shard in self.shards])
        # Key prefixes; the layout is described in scripts.py.
        self._q = prefix + "q:"
        self._n = prefix + "n:"
        self._g = prefix + "g:"
        self._w = prefix + "w:"
        self._h = prefix + "h:"
        # Keys outlive the newest thing in them by a second, then vanish.
        self._expiry_ms = math.ceil(self.expiry * 1000)
        self._ttl_ms = self._expiry_ms + 1000
        self._group_expiry_ms = math.ceil(self.group_expiry * 1000)
        self._group_ttl_ms = self._group_expiry_ms + 1000
        self._rotation = itertools.count()
        # Inbox messages already popped from Redis, waiting to be returned;
        # channels whose count a BLPOP'd message has yet to come off; whether
        # the last batch pop of an inbox came back full.
        self._prefetched: dict[str, collections.deque[tuple[str, bytes]]] = {}
        self._uncount: dict[str, list[bytes]] = {}
        self._batch_full: dict[str, bool] = {}
        self._prefetch_lock = threading.Lock()

    # --- placement -----------------------------------------------------------

    def shard_for_channel(self, channel: str) -> Shard:
        """The server holding ``channel`` (a process-local one: its inbox's)."""
        return self.shards[self._ring.index_for(inbox_of(channel))]

    def shard_for_group(self, group: str) -> Shard:
        """The server holding the membership of ``group``."""
        # A distinct namespace, so a group and a channel of the same name
        # spread independently.
        return self.shards[self._ring.index_for("group:" + group)]

    # --- sending -------------------------------------------------------------

    def _send(self, channel: str, data: bytes, capacity: int) -> None:
        inbox = inbox_of(channel)
        tag = channel if inbox != channel else ""
        shard = self.shard_for_channel(channel)
        payload = self._seal(data)

        def attempt() -> int:
            now = _now_ms()
            element = b"%d:%s:%s" % (now + self._expiry_ms, tag.encode(), payload)
            return shard.script(
                _SEND,
                [self._q + inbox, self._n + inbox],
                [tag, capacity, now, element, self._ttl_ms],
            )

        if not self._retrying(shard, attempt, what=f"send to {channel!r}"):
            raise self.full_error(channel, capacity)

    def _send_many(self, items: list[tuple[str, bytes, int]]) -> list[Exception | None]:
        # One script call per server: N messages, one round trip, and one
        # script start in Redis instead of N.
        results: list[Exception | None] = [None] * len(items)
        by_shard: dict[int, list[int]] = {}
        for index, (channel, _, _) in enumerate(items):
            shard_index = self._ring.index_for(inbox_of(channel))
            by_shard.setdefault(shard_index, []).append(index)
        for shard_index, indexes in by_shard.items():
            shard = self.shards[shard_index]

            def attempt(shard=shard, indexes=indexes) -> list:
                now = _now_ms()
                expires = now + self._expiry_ms
                keys: list[str] = []
                args: list[Any] = [now, self._ttl_ms]
                for index in indexes:
                    channel, data, capacity = items[index]
                    inbox = inbox_of(channel)
                    tag = channel if inbox != channel else ""
                    keys += (self._q + inbox, self._n + inbox)
                    args += (tag, capacity, b"%d:%s:%s" % (expires, tag.encode(), self._seal(data)))
                return shard.script(_SEND_EACH, keys, args)

            try:
                replies = self._retrying(shard, attempt, what=f"{len(indexes)} sends")
            except (BackendUnavailable, ResponseError) as exc:
                error = exc
                if isinstance(exc, ResponseError):
                    error = BackendUnavailable(f"Redis refused {len(indexes)} sends: {exc}")
                for index in indexes:
                    results[index] = error
                continue
            for index, reply in zip(indexes, replies, strict=True):
                if not reply:
                    channel, _, capacity = items[index]
                    results[index] = self.full_error(channel, capacity)
        return results

    # --- a worker's turn: sends and the next receive in one round trip ---------

    def _send_and_receive(
        self, items: list[tuple[str, bytes, int]], channels: list[str], timeout: float
    ) -> tuple[int, Exception | None, str | None, bytes | None]:
        """One script sends the items in order (stopping at the first full
        channel) and pops the next message, when all of it lives on one
        server; otherwise, or when nothing was waiting and ``timeout``
        allows, the usual blocking receive follows.

        The pop is the same single-message pop as ``receive_many``'s, so
        competing receivers still each get a message at most once. Inboxes
        are left to ``_receive``, which serves their prefetched messages.
        """
        deadline = time.monotonic() + timeout
        placed = {self._ring.index_for(inbox_of(channel)) for channel, _, _ in items}
        pop_here = [n for n in channels if not n.endswith("!")] == channels
        if pop_here:
            placed.update(self._ring.index_for(name) for name in channels)
        if len(placed) > 1:
            return super()._send_and_receive(items, channels, timeout)
        if not placed:  # nothing to send, an inbox to receive from
            channel, data = self._receive(channels, timeout) if channels else (None, None)
            return 0, None, channel, data
        shard = self.shards[placed.pop()]
        pop_from = channels if pop_here else []

        def attempt() -> list:
            now = _now_ms()
            keys: list[str] = []
            args: list[Any] = [now, len(items), self._ttl_ms]
            expires = now + self._expiry_ms
            for channel, data, capacity in items:
                inbox = inbox_of(channel)
                tag = channel if inbox != channel else ""
                keys += (self._q + inbox, self._n + inbox)
                args += (tag, capacity, b"%d:%s:%s" % (expires, tag.encode(), self._seal(data)))
            for name in pop_from:
                keys += (self._q + name, self._n + name)
            return shard.script(_SEND_POP, keys, args)

        try:
            reply = self._retrying(shard, attempt, what=f"{len(items)} sends and a receive")
        except BackendUnavailable as exc:
            return 0, exc, None, None
        sent = reply[0]
        if sent < len(items):
            channel, _, capacity = items[sent]
            return sent, self.full_error(channel, capacity), None, None
        if len(reply) == 3:
            # The script dropped expired messages already.
            found = self._unpack(pop_from[reply[1] - 1], reply[2], checked=True)
            if found is not None:
                return sent, None, *found
        if not channels:
            return sent, None, None, None
        remaining = deadline - time.monotonic()
        if pop_here and remaining < MIN_BLOCK:
            return sent, None, None, None  # the script looked already
        channel, data = self._receive(channels, max(remaining, 0.0))
        return sent, None, channel, data

    def _retrying(
        self, shard: Shard, attempt: Callable[[], T], what: str, idempotent: bool = False
    ) -> T:
        """Run ``attempt``, retrying connection failures for SEND_RETRY_TIME.

        A request that may have reached Redis is retried only if
        ``idempotent``: retrying a send could deliver a message twice.
        """
        deadline = time.monotonic() + self.send_retry_time
        delay = 0.05
        while True:
            try:
                return attempt()
            except ShardDown as down:
                if down.sent and not idempotent:
                    raise BackendUnavailable(
                        f"lost the connection to Redis at {shard.ident} during {what} "
                        f"({down.error}); it may or may not have been done"
                    ) from down
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BackendUnavailable(
                        f"cannot reach Redis at {shard.ident} for {what}: {down.error} "
                        f"(retried for {self.send_retry_time:g} s)"
                    ) from down
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.5)

    # --- receiving -----------------------------------------------------------

    def _receive(
        self, channels: list[str], timeout: float
    ) -> tuple[str, bytes] | tuple[None, None]:
        deadline = time.monotonic() + timeout
        if len(channels) == 1 and channels[0].endswith("!"):
            return self._receive_inbox(channels[0], deadline)
        buckets = self._buckets(channels)
        # A non-blocking pop (a script) first when inboxes are involved, so
        # their counters are fixed atomically with the pop, or when several
        # servers are involved, so a waiting message is taken without threads.
        prepass = (
            timeout <= 0
            or len(buckets) > 1
            or any(name.endswith("!") for _, names in buckets for name in names)
        )
        while True:
            if prepass:
                found = self._pop_now(buckets)
                if found is not None:
                    return found
            remaining = deadline - time.monotonic()
            if remaining < MIN_BLOCK:
                return None, None
            if len(buckets) == 1:
                found = self._block_one(*buckets[0], remaining)
            else:
                found = self._block_many(buckets, remaining)
            if found is not None:
                return found

    def _receive_inbox(self, inbox: str, deadline: float) -> tuple[str, bytes] | tuple[None, None]:
        """Receive from one process inbox: up to INBOX_BATCH messages per round
        trip, and two round trips per message when they come one at a time.

        A message taken by BLPOP is counted off its channel by the next batch
        pop rather than by a call of its own, so its channel's count stays one
        too high until this process receives again (it always does: an
        interface server loops on its inbox) or the inbox key expires.
        """
        shard = self.shard_for_channel(inbox)
        keys = [self._q + inbox, self._n + inbox]
        while True:
            with self._prefetch_lock:
                found = self._take_prefetched(inbox)
                if found is not None:
                    return found
                uncount = self._uncount.get(inbox, [])
                will_block = deadline - time.monotonic() >= MIN_BLOCK
                look_first = uncount or self._batch_full.get(inbox, True) or not will_block
                if look_first and shard.backoff_remaining() <= 0:
                    try:
                        elements = shard.script(
                            _POP_BATCH, keys, [_now_ms(), INBOX_BATCH, *uncount]
                        )
                    except ShardDown:
                        elements = None
                    if elements is not None:
                        self._uncount.pop(inbox, None)
                        # A short batch emptied the list: next time go
                        # straight to BLPOP, which returns at once if
                        # anything came meanwhile.
                        self._batch_full[inbox] = len(elements) == INBOX_BATCH
                        if elements:
                            self._prefetched.setdefault(inbox, collections.deque()).extend(
                                (inbox, element) for element in elements
                            )
                            continue
            remaining = deadline - time.monotonic()
            if remaining < MIN_BLOCK:
                return None, None
            reply = self._blpop(shard, keys[:1], remaining)
            if reply is None:
                continue
            element = reply[1]
            tag = element.split(b":", 2)[1]
            with self._prefetch_lock:
                if tag:
                    self._uncount.setdefault(inbox, []).append(tag)
                self._batch_full[inbox] = True  # more may be waiting behind it
            found = self._unpack(inbox, element)
            if found is not None:
                return found

    def _receive_batch(
        self, channels: list[str], limit: int, timeout: float
    ) -> list[tuple[str, bytes]]:
        """For one inbox: the first message as ``_receive_inbox`` takes it,
        then everything already prefetched under one lock, fetching another
        batch only when that runs out."""
        if not (len(channels) == 1 and channels[0].endswith("!")):
            return super()._receive_batch(channels, limit, timeout)
        inbox = channels[0]
        out: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < limit:
            with self._prefetch_lock:
                while len(out) < limit:
                    found = self._take_prefetched(inbox)
                    if found is None:
                        break
                    out.append(found)
            if len(out) >= limit:
                break
            channel, data = self._receive_inbox(inbox, deadline if not out else 0.0)
            if channel is None:
                break
            out.append((channel, data))
        return out

    def _take_prefetched(self, inbox: str) -> tuple[str, bytes] | None:
        """The next live prefetched message of ``inbox`` (lock held)."""
        waiting = self._prefetched.get(inbox)
        while waiting:
            found = self._unpack(*waiting.popleft())
            if found is not None:
                return found
        return None

    def _buckets(self, channels: list[str]) -> list[tuple[Shard, list[str]]]:
        """``channels`` grouped by server, in order, without duplicates."""
        if len(self.shards) == 1:
            return [(self.shards[0], list(dict.fromkeys(channels)))]
        by_shard: dict[int, list[str]] = {}
        for name in dict.fromkeys(channels):
            by_shard.setdefault(self._ring.index_for(inbox_of(name)), []).append(name)
        return [(self.shards[index], names) for index, names in by_shard.items()]

    def _pop_now(self, buckets: list[tuple[Shard, list[str]]]) -> tuple[str, bytes] | None:
        start = next(self._rotation) % len(buckets)
        for shard, names in buckets[start:] + buckets[:start]:
            if shard.backoff_remaining() > 0:
                continue  # known down: don't stall a non-blocking receive
            keys = [key for name in names for key in (self._q + name, self._n + name)]
            while True:
                try:
                    reply = shard.script(_POP, keys, [_now_ms()])
                except ShardDown:
                    break
                if not reply:
                    break
                index, element = reply
                found = self._unpack(names[index - 1], element)
                if found is not None:
                    return found
        return None

    def _block_one(
        self, shard: Shard, names: list[str], remaining: float
    ) -> tuple[str, bytes] | None:
        keys = [self._q + name for name in names]
        reply = self._blpop(shard, keys, remaining)
        if reply is None:
            return None
        return self._accept(shard, names, keys, reply)

    def _blpop(self, shard: Shard, keys: list[str], remaining: float) -> list | None:
        """One BLPOP of at most MAX_BLOCK seconds; None on timeout or outage."""
        wait = shard.backoff_remaining()
        if wait > 0:
            time.sleep(min(wait, remaining))
            return None
        block = min(remaining, MAX_BLOCK)
        try:
            return shard.command(
                "BLPOP", *keys, blpop_timeout(block), read_timeout=block + READ_MARGIN
            )
        except ShardDown:
            return None

    def _block_many(
        self, buckets: list[tuple[Shard, list[str]]], remaining: float
    ) -> tuple[str, bytes] | None:
        waits = [(shard, [self._q + name for name in names]) for shard, names in buckets]
        replies = wait_on_shards(waits, self._w + secrets.token_hex(12), min(remaining, MAX_BLOCK))
        found = None
        for index, reply in replies:
            shard, names = buckets[index]
            if found is None:
                found = self._accept(shard, names, waits[index][1], reply)
            else:
                # Popped in the same instant as the winner: put it back at
                # the head, where the next receive finds it first.
                try:
                    shard.command("LPUSH", reply[0], reply[1])
                except ShardDown:
                    logger.warning("lost a message while returning it to %s", shard.ident)
        return found

    def _accept(
        self, shard: Shard, names: list[str], keys: list[str], reply: list
    ) -> tuple[str, bytes] | None:
        """Finish a blocking pop: count the message off its process-local
        channel, drop it if expired. None if it must not be delivered."""
        key, element = reply
        name = names[keys.index(key.decode())]
        expires, tag, _ = element.split(b":", 2)
        if tag:
            try:
                shard.script(_ACK, [self._n + name], [tag])
            except ShardDown:
                # The count stays one too high until the inbox key expires.
                logger.warning("could not count off a message on %s", shard.ident)
        if int(expires) <= _now_ms():
            return None
        return self._unpack(name, element, checked=True)

    def _unpack(self, name: str, element: bytes, checked: bool = False) -> tuple[str, bytes] | None:
        expires, tag, payload = element.split(b":", 2)
        if not checked and int(expires) <= _now_ms():
            return None
        data = self._open(payload)
        if data is None:
            return None
        return (tag.decode() if tag else name), data

    # --- encryption ----------------------------------------------------------

    def _seal(self, data: bytes) -> bytes:
        return data if self._sealer is None else self._sealer.seal(data)

    def _open(self, payload: bytes) -> bytes | None:
        if self._sealer is None:
            return payload
        data = self._sealer.open(payload)
        if data is None:
            logger.error(
                "dropped a message no SYMMETRIC_ENCRYPTION_KEYS key can decrypt "
                "(do all processes share the same keys?)"
            )
        return data

    # --- holding capacity ----------------------------------------------------

    def _hold(self, channel: str, count: int) -> None:
        self._change_count(channel, count, "hold")

    def _release(self, channel: str, count: int) -> None:
        self._change_count(channel, -count, "release")

    def _change_count(self, channel: str, change: int, what: str) -> None:
        # The count hash's TTL is the hold's lifetime: EXPIRY unless the
        # inbox keeps receiving.
        shard = self.shard_for_channel(channel)
        self._retrying(
            shard,
            lambda: shard.script(
                SCRIPTS["hold"], [self._n + inbox_of(channel)], [channel, change, self._ttl_ms]
            ),
            f"{what} on {channel!r}",
        )

    # --- groups --------------------------------------------------------------

    def _group_add(self, group: str, channel: str) -> None:
        shard = self.shard_for_group(group)

        def attempt() -> Any:
            now = _now_ms()
            return shard.script(
                SCRIPTS["group_add"],
                [self._g + group],
                [channel, now + self._group_expiry_ms, now, self._group_ttl_ms],
            )

        self._retrying(shard, attempt, f"group_add to {group!r}", idempotent=True)

    def _group_discard(self, group: str, channel: str) -> None:
        shard = self.shard_for_group(group)
        self._retrying(
            shard,
            lambda: shard.command("ZREM", self._g + group, channel),
            f"group_discard from {group!r}",
            idempotent=True,
        )

    def _group_channels(self, group: str) -> list[str]:
        shard = self.shard_for_group(group)
        members = self._retrying(
            shard,
            lambda: shard.script(SCRIPTS["group_members"], [self._g + group], [_now_ms()]),
            f"reading group {group!r}",
            idempotent=True,
        )
        return [member.decode() for member in members]

    def _send_group(self, group: str, data: bytes) -> tuple[int, int]:
        payload = self._seal(data)
        shard = self.shard_for_group(group)
        if len(self.shards) == 1 and not self.channel_capacity:
            # Group and members on one server, one capacity: one round trip.
            def attempt() -> list[int]:
                now = _now_ms()
                return shard.script(
                    SCRIPTS["group_send"],
                    [self._g + group],
                    [
                        self._q,
                        self._n,
                        now,
                        now + self._expiry_ms,
                        self._ttl_ms,
                        payload,
                        self.capacity,
                    ],
                )

            sent, skipped = self._retrying(shard, attempt, f"send_group to {group!r}")
            return sent, skipped
        members = self._group_channels(group)
        by_shard: dict[int, list] = {}
        for member in members:
            index = self._ring.index_for(inbox_of(member))
            by_shard.setdefault(index, []).extend((member, self.capacity_for(member)))
        sent = skipped = 0
        for index, pairs in by_shard.items():
            target = self.shards[index]

            def attempt(target=target, pairs=pairs) -> list[int]:
                now = _now_ms()
                return target.script(
                    SCRIPTS["send_many"],
                    [],
                    [self._q, self._n, now, now + self._expiry_ms, self._ttl_ms, payload, *pairs],
                )

            try:
                done, missed = self._retrying(target, attempt, f"send_group to {group!r}")
            except BackendUnavailable as exc:
                # One unreachable server must not cost the members elsewhere
                # their message: count its members as skipped.
                logger.warning("send_group %r skipped %d members: %s", group, len(pairs) // 2, exc)
                done, missed = 0, len(pairs) // 2
            sent += done
            skipped += missed
        return sent, skipped

    # --- operations ----------------------------------------------------------

    extensions = BaseChannelBackend.extensions + ("ops", "hold")

    def _channel_stats(self) -> list[tuple[str, int, float | None]]:
        stats = []
        for shard in self.shards:
            keys = self._retrying(
                shard, lambda shard=shard: self._scan(shard, self._q), "channel_stats", True
            )
            if not keys:
                continue
            replies = shard.request(
                [cmd for key in keys for cmd in (("LLEN", key), ("LINDEX", key, 0))]
            )
            now = _now_ms()
            for key, depth, head in zip(keys, replies[::2], replies[1::2], strict=True):
                if not depth or head is None:
                    continue  # emptied since the scan
                sent_at = int(head.split(b":", 1)[0]) - self._expiry_ms
                name = key.decode()[len(self._q) :]
                stats.append((name, int(depth), max(0.0, (now - sent_at) / 1000)))
        return stats

    def _record_heartbeat(self, ident: str, data: bytes, ttl: float) -> None:
        shard = self._heartbeat_shard()
        self._retrying(
            shard,
            lambda: shard.command(
                "SET", self._h + ident, data, "PX", max(1, math.ceil(ttl * 1000))
            ),
            "record_heartbeat",
            idempotent=True,
        )

    def _heartbeats(self) -> list[bytes]:
        shard = self._heartbeat_shard()

        def attempt() -> list[bytes]:
            keys = sorted(self._scan(shard, self._h))
            if not keys:
                return []
            return [data for data in shard.command("MGET", *keys) if data is not None]

        return self._retrying(shard, attempt, "heartbeats", idempotent=True)

    def _heartbeat_shard(self) -> Shard:
        # All heartbeats on one server, so reading them is one scan.
        return self.shards[self._ring.index_for("heartbeats")]

    @classmethod
    def _scan(cls, shard: Shard, prefix: str) -> list[bytes]:
        """Every key starting with ``prefix`` on ``shard`` (SCAN, never KEYS)."""
        return cls._scan_glob(shard, glob_escape(prefix) + "*")

    @staticmethod
    def _scan_glob(shard: Shard, pattern: str) -> list[bytes]:
        """Every key matching the glob ``pattern`` on ``shard``."""
        found: list[bytes] = []
        cursor = 0
        while True:
            cursor, keys = shard.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            found.extend(keys)
            if int(cursor) == 0:
                return list(dict.fromkeys(found))  # SCAN may repeat a key

    # --- housekeeping --------------------------------------------------------

    def flush_scope(self) -> list[str]:
        """What :meth:`flush` deletes: this backend's key families, nothing else."""
        servers = ", ".join(shard.ident for shard in self.shards)
        width = max(len(self.prefix + family + ":" + name) for family, _, name in KEY_FAMILIES)
        return [
            f"on Redis {servers}, every key named",
            *(
                f"  {(self.prefix + family + ':' + name).ljust(width)}  {what}"
                for family, what, name in KEY_FAMILIES
            ),
            "where the name holds no ':'. No other key: not those of any other PREFIX, "
            f"even one starting with {self.prefix!r}.",
        ]

    def _flush(self) -> None:
        with self._prefetch_lock:
            self._prefetched.clear()
            self._uncount.clear()
            self._batch_full.clear()
        pattern = family_pattern(self.prefix)
        for shard in self.shards:

            def attempt(shard=shard) -> None:
                keys = [k for k in self._scan_glob(shard, pattern) if is_own_key(self.prefix, k)]
                for start in range(0, len(keys), 1000):
                    shard.command("DEL", *keys[start : start + 1000])

            self._retrying(shard, attempt, "flush", idempotent=True)

    def close(self) -> None:
        """Close idle connections; they are reopened on next use."""
        for shard in self.shards:
            shard.close()

    def __repr__(self) -> str:
        hosts = ", ".join(shard.ident for shard in self.shards)
        return f"<RedisChannelBackend alias={self.alias!r} hosts=[{hosts}] prefix={self.prefix!r}>"
