"""What the Redis backend tells operators (``channels status``): channels
with messages waiting, the servers behind it, and the heartbeats of live
workers and interface servers."""

from __future__ import annotations

import logging
import math

from ...exceptions import BackendUnavailable
from ..base import ServerStats
from .connection import Shard, ShardDown
from .elements import expires_at
from .keys import glob_escape
from .receiving import now_ms

logger = logging.getLogger("channels.backends.redis")


class Operations:
    """The ``"ops"`` extension of
    :class:`~channels.backends.redis.RedisChannelBackend`; uses its
    ``shards``, ``keys``, ``_cluster``, ``_ring`` and ``_retrying``."""

    def _channel_stats(self) -> list[tuple[str, int, float | None]]:
        # A shard that is down is left out (logged); server_stats says so.
        stats = []
        for shard in self.shards:
            try:
                keys = self._retrying(
                    shard,
                    lambda shard=shard: self._scan(shard, self.keys.queue_prefix()),
                    "channel_stats",
                    True,
                )
                if not keys:
                    continue
                replies = shard.request(
                    [cmd for key in keys for cmd in (("LLEN", key), ("LINDEX", key, 0))]
                )
            except (BackendUnavailable, ShardDown) as exc:
                logger.warning("channel_stats left out %s: %s", shard.ident, exc)
                continue
            now = now_ms()
            for key, depth, head in zip(keys, replies[::2], replies[1::2], strict=True):
                if not depth or head is None:
                    continue  # emptied since the scan
                sent_at = expires_at(head) - self._expiry_ms
                name = self.keys.queue_name(key)
                stats.append((name, int(depth), max(0.0, (now - sent_at) / 1000)))
        return stats

    def server_stats(self) -> list[ServerStats]:
        """Each shard: where it is, its role, failovers (Sentinel), memory."""
        return [row for shard in self.shards for row in shard.describe_servers()]

    def _record_heartbeat(self, ident: str, data: bytes, ttl: float) -> None:
        shard = self._heartbeat_shard()
        self._retrying(
            shard,
            lambda: shard.command(
                "SET", self.keys.heartbeat(ident), data, "PX", max(1, math.ceil(ttl * 1000))
            ),
            "record_heartbeat",
            idempotent=True,
        )

    def _heartbeats(self) -> list[bytes]:
        shard = self._heartbeat_shard()

        def attempt() -> list[bytes]:
            keys = sorted(self._scan(shard, self.keys.heartbeat_prefix()))
            if not keys:
                return []
            return [data for data in shard.command("MGET", *keys) if data is not None]

        return self._retrying(shard, attempt, "heartbeats", idempotent=True)

    def _heartbeat_shard(self) -> Shard:
        # All heartbeats on one server, so reading them is one scan.
        if self._cluster is not None:
            return self._cluster.shard_for_key(self.keys.heartbeat_prefix())
        return self.shards[self._ring.index_for("heartbeats")]

    @staticmethod
    def _scan(shard: Shard, prefix: str) -> list[bytes]:
        """Every key starting with ``prefix`` on ``shard`` (SCAN, never KEYS)."""
        return shard.scan(glob_escape(prefix) + "*")
