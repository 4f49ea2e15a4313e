"""The Redis channel backend, for production: one or many Redis servers.

How to configure it, how it stores and shards channels, how it behaves when
Redis restarts or fails over, and what it can lose: docs/backends-redis.rst.
The key layout is in :mod:`.scripts`, the element format in :mod:`.elements`,
the receive path in :mod:`.receiving`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from ...exceptions import BackendUnavailable, ImproperlyConfiguredBackend
from ...names import inbox_of
from ..base import BaseChannelBackend
from .blocking import MIN_BLOCK
from .cluster import ClusterRouter
from .connection import Shard, ShardDown, default_connection_kwargs
from .crypto import Sealer, validate_keys
from .elements import channel_tag, pack
from .hosts import parse_hosts
from .keys import KEY_FAMILIES, KeyLayout, family_pattern, is_own_key
from .operations import Operations
from .receiving import ReceivePath, now_ms
from .scripts import SCRIPTS
from .sharding import HashRing

__all__ = ["RedisChannelBackend"]

logger = logging.getLogger("channels.backends.redis")

T = TypeVar("T")

_SEND, _SEND_POP, _SEND_EACH = SCRIPTS["send"], SCRIPTS["send_pop"], SCRIPTS["send_each"]


class RedisChannelBackend(ReceivePath, Operations, BaseChannelBackend):
    """Channels in Redis lists, sharded over ``HOSTS`` (see the module docs).

    Extra options:

    ``HOSTS`` (``["redis://localhost:6379/0"]``)
        Redis servers; URLs, ``(host, port)`` pairs, dicts, or Sentinel
        entries (:mod:`.hosts`).
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
    ``CLUSTER`` (False)
        True: ``HOSTS`` are seed nodes of a Redis Cluster (:mod:`.cluster`).
    """

    extra_options = (
        "HOSTS",
        "HOST",
        "PORT",
        "PREFIX",
        "SYMMETRIC_ENCRYPTION_KEYS",
        "CONNECTION_KWARGS",
        "SEND_RETRY_TIME",
        "CLUSTER",
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
        cluster = options.get("CLUSTER", False)
        if not isinstance(cluster, bool):
            raise ImproperlyConfiguredBackend(f"CLUSTER must be True or False, not {cluster!r}")
        # On a cluster, channels are placed by hash slot (the router's
        # shards); ``shards`` is then the cluster as one, for what spans it.
        self._cluster = ClusterRouter(specs, common) if cluster else None
        if self._cluster is not None:
            self.shards = [self._cluster.whole]
        else:
            self.shards = [Shard(spec, common) for spec in specs]
        for shard in self.shards:
            shard.check_tls()
        self._ring = HashRing([shard.ident for shard in self.shards])
        # Key names; the layout is described in scripts.py.
        try:
            self.keys = KeyLayout(prefix, cluster=cluster)
        except ValueError as exc:
            raise ImproperlyConfiguredBackend(str(exc)) from exc
        # Keys outlive the newest thing in them by a second, then vanish.
        self._expiry_ms = math.ceil(self.expiry * 1000)
        self._ttl_ms = self._expiry_ms + 1000
        self._group_expiry_ms = math.ceil(self.group_expiry * 1000)
        self._group_ttl_ms = self._group_expiry_ms + 1000
        self._init_receiving()

    # --- placement -----------------------------------------------------------

    def shard_for_channel(self, channel: str) -> Shard:
        """The server (on a cluster: the slot) holding ``channel`` (a
        process-local one: its inbox's)."""
        inbox = inbox_of(channel)
        if self._cluster is not None:
            return self._cluster.shard_for_key(self.keys.queue(inbox))
        return self.shards[self._ring.index_for(inbox)]

    def shard_for_group(self, group: str) -> Shard:
        """The server (on a cluster: the slot) holding the membership of ``group``."""
        if self._cluster is not None:
            return self._cluster.shard_for_key(self.keys.group(group))
        # A distinct namespace, so a group and a channel of the same name
        # spread independently.
        return self.shards[self._ring.index_for("group:" + group)]

    @property
    def single_server(self) -> bool:
        """Whether everything lives on one server (one round trip can do it all)."""
        return len(self.shards) == 1 and self._cluster is None

    # --- sending -------------------------------------------------------------

    def _send(self, channel: str, data: bytes, capacity: int) -> None:
        inbox = inbox_of(channel)
        tag = channel_tag(channel, inbox)
        shard = self.shard_for_channel(channel)
        payload = self._seal(data)

        def attempt() -> int:
            now = now_ms()
            element = pack(now + self._expiry_ms, tag, payload)
            return shard.script(
                _SEND,
                [self.keys.queue(inbox), self.keys.counts(inbox)],
                [tag, capacity, now, element, self._ttl_ms],
            )

        if not self._retrying(shard, attempt, what=f"send to {channel!r}"):
            raise self.full_error(channel, capacity)

    def _send_many(self, items: list[tuple[str, bytes, int]]) -> list[Exception | None]:
        # One script call per server: N messages, one round trip, and one
        # script start in Redis instead of N.
        results: list[Exception | None] = [None] * len(items)
        by_shard: dict[Shard, list[int]] = {}
        for index, (channel, _, _) in enumerate(items):
            by_shard.setdefault(self.shard_for_channel(channel), []).append(index)
        for shard, indexes in by_shard.items():

            def attempt(shard=shard, indexes=indexes) -> list:
                now = now_ms()
                expires = now + self._expiry_ms
                keys: list[str] = []
                args: list[Any] = [now, self._ttl_ms]
                for index in indexes:
                    channel, data, capacity = items[index]
                    inbox = inbox_of(channel)
                    tag = channel_tag(channel, inbox)
                    keys += (self.keys.queue(inbox), self.keys.counts(inbox))
                    args += (tag, capacity, pack(expires, tag, self._seal(data)))
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
        placed = {self.shard_for_channel(channel) for channel, _, _ in items}
        pop_here = [n for n in channels if not n.endswith("!")] == channels
        if pop_here:
            placed.update(self.shard_for_channel(name) for name in channels)
        if len(placed) > 1:
            return super()._send_and_receive(items, channels, timeout)
        if not placed:  # nothing to send, an inbox to receive from
            channel, data = self._receive(channels, timeout) if channels else (None, None)
            return 0, None, channel, data
        shard = placed.pop()
        pop_from = channels if pop_here else []

        def attempt() -> list:
            now = now_ms()
            keys: list[str] = []
            args: list[Any] = [now, len(items), self._ttl_ms]
            expires = now + self._expiry_ms
            for channel, data, capacity in items:
                inbox = inbox_of(channel)
                tag = channel_tag(channel, inbox)
                keys += (self.keys.queue(inbox), self.keys.counts(inbox))
                args += (tag, capacity, pack(expires, tag, self._seal(data)))
            for name in pop_from:
                keys += (self.keys.queue(name), self.keys.counts(name))
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
                SCRIPTS["hold"],
                [self.keys.counts(inbox_of(channel))],
                [channel, change, self._ttl_ms],
            ),
            f"{what} on {channel!r}",
        )

    # --- groups --------------------------------------------------------------

    def _group_add(self, group: str, channel: str) -> None:
        shard = self.shard_for_group(group)

        def attempt() -> Any:
            now = now_ms()
            return shard.script(
                SCRIPTS["group_add"],
                [self.keys.group(group)],
                [channel, now + self._group_expiry_ms, now, self._group_ttl_ms],
            )

        self._retrying(shard, attempt, f"group_add to {group!r}", idempotent=True)

    def _group_discard(self, group: str, channel: str) -> None:
        shard = self.shard_for_group(group)
        self._retrying(
            shard,
            lambda: shard.command("ZREM", self.keys.group(group), channel),
            f"group_discard from {group!r}",
            idempotent=True,
        )

    def _group_channels(self, group: str) -> list[str]:
        shard = self.shard_for_group(group)
        members = self._retrying(
            shard,
            lambda: shard.script(SCRIPTS["group_members"], [self.keys.group(group)], [now_ms()]),
            f"reading group {group!r}",
            idempotent=True,
        )
        return [member.decode() for member in members]

    def _send_group(self, group: str, data: bytes) -> tuple[int, int]:
        payload = self._seal(data)
        shard = self.shard_for_group(group)
        qprefix, nprefix, close = self.keys.script_prefixes()
        if self.single_server and not self.channel_capacity:
            # Group and members on one server, one capacity: one round trip.
            def attempt() -> list[int]:
                now = now_ms()
                return shard.script(
                    SCRIPTS["group_send"],
                    [self.keys.group(group)],
                    [
                        qprefix,
                        nprefix,
                        now,
                        now + self._expiry_ms,
                        self._ttl_ms,
                        payload,
                        self.capacity,
                        close,
                    ],
                )

            sent, skipped = self._retrying(shard, attempt, f"send_group to {group!r}")
            return sent, skipped
        members = self._group_channels(group)
        by_shard: dict[Shard, list] = {}
        for member in members:
            target = self.shard_for_channel(member)
            by_shard.setdefault(target, []).extend((member, self.capacity_for(member)))
        # One fan-out script per server (on a cluster: per slot, pipelined
        # per node), so one round trip per server or node.
        per_trip: dict[str, list[tuple[Shard, list]]] = {}
        for target, pairs in by_shard.items():
            node = self._cluster.node_name(target.slot) if self._cluster else target.ident
            per_trip.setdefault(node, []).append((target, pairs))
        sent = skipped = 0
        for parts in per_trip.values():
            via = parts[0][0] if len(parts) == 1 else self._cluster.whole

            def attempt(via=via, parts=parts) -> list[list[int]]:
                now = now_ms()
                head = [qprefix, nprefix, now, now + self._expiry_ms, self._ttl_ms, payload, close]
                return via.scripts(
                    [
                        (SCRIPTS["send_many"], [self.keys.queue(inbox_of(pairs[0]))], head + pairs)
                        for _, pairs in parts
                    ]
                )

            members = sum(len(pairs) // 2 for _, pairs in parts)
            try:
                replies = self._retrying(via, attempt, f"send_group to {group!r}")
            except BackendUnavailable as exc:
                # One unreachable server must not cost the members elsewhere
                # their message: count its members as skipped.
                logger.warning("send_group %r skipped %d members: %s", group, members, exc)
                replies = [(0, members)]
            sent += sum(done for done, _ in replies)
            skipped += sum(missed for _, missed in replies)
        return sent, skipped

    # --- operations ----------------------------------------------------------

    extensions = BaseChannelBackend.extensions + ("ops", "hold")

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
        self._forget_prefetched()
        pattern = family_pattern(self.prefix)
        for shard in self.shards:

            def attempt(shard=shard) -> None:
                keys = [
                    k for k in shard.scan(pattern) if is_own_key(self.prefix, k, self.keys.cluster)
                ]
                for start in range(0, len(keys), 1000):
                    # One DEL per key: on a cluster they live in many slots.
                    shard.request([("DEL", key) for key in keys[start : start + 1000]])

            self._retrying(shard, attempt, "flush", idempotent=True)

    def close(self) -> None:
        """Close idle connections; they are reopened on next use."""
        for shard in self.shards:
            shard.close()

    def __repr__(self) -> str:
        hosts = ", ".join(shard.ident for shard in self.shards)
        return f"<RedisChannelBackend alias={self.alias!r} hosts=[{hosts}] prefix={self.prefix!r}>"
