"""An in-process channel backend, for tests and the development server.

Every process has its own queues, so it cannot connect an interface server to
a separate worker process; use the database or Redis backend for that.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from ..names import inbox_of
from .base import BaseChannelBackend


class InMemoryChannelBackend(BaseChannelBackend):
    """Channels as deques guarded by one condition variable.

    Messages sent to ``prefix!suffix`` queue under their inbox ``prefix!``
    together with their full name, exactly as the other backends store them.
    A hold is just a higher count (it lapses only when released).
    """

    extensions = BaseChannelBackend.extensions + ("hold",)

    def __init__(self, alias: str = "default", **options) -> None:
        super().__init__(alias, **options)
        self._cond = threading.Condition()
        # inbox -> deque of (expires_at, full channel name, encoded message)
        self._queues: dict[str, deque[tuple[float, str, bytes]]] = {}
        # full channel name -> messages waiting (capacity is per channel, so
        # 1,000 sockets sharing one inbox do not share one capacity)
        self._counts: dict[str, int] = {}
        # group -> {channel: membership expires_at}
        self._groups: dict[str, dict[str, float]] = {}
        # heartbeat id -> (expires_at, encoded record)
        self._heartbeat_records: dict[str, tuple[float, bytes]] = {}

    def _send(self, channel: str, data: bytes, capacity: int) -> None:
        now = time.monotonic()
        with self._cond:
            queue = self._queues.setdefault(inbox_of(channel), deque())
            self._drop_expired(queue, now)
            if self._counts.get(channel, 0) >= capacity:
                raise self.full_error(channel, capacity)
            queue.append((now + self.expiry, channel, data))
            self._counts[channel] = self._counts.get(channel, 0) + 1
            self._cond.notify_all()

    def _receive(self, channels, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._pop(channels, time.monotonic())
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, None
                self._cond.wait(remaining)

    def _pop(self, channels, now):
        for name in channels:
            queue = self._queues.get(name)
            if not queue:
                continue
            self._drop_expired(queue, now)
            if queue:
                _, channel, data = queue.popleft()
                self._uncount(channel)
                if not queue:
                    del self._queues[name]
                return channel, data
        return None

    def _drop_expired(self, queue, now):
        while queue and queue[0][0] <= now:
            self._uncount(queue.popleft()[1])

    def _uncount(self, channel):
        left = self._counts[channel] - 1
        if left:
            self._counts[channel] = left
        else:
            del self._counts[channel]

    def _hold(self, channel, count):
        with self._cond:
            self._counts[channel] = self._counts.get(channel, 0) + count

    def _release(self, channel, count):
        with self._cond:
            left = self._counts.get(channel, 0) - count
            if left > 0:
                self._counts[channel] = left
            else:
                self._counts.pop(channel, None)

    def _group_add(self, group, channel):
        with self._cond:
            self._groups.setdefault(group, {})[channel] = time.monotonic() + self.group_expiry

    def _group_discard(self, group, channel):
        with self._cond:
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]

    def _group_channels(self, group):
        now = time.monotonic()
        with self._cond:
            members = self._groups.get(group, {})
            for channel in [c for c, expires in members.items() if expires <= now]:
                del members[channel]
            return list(members)

    def _channel_stats(self):
        now = time.monotonic()
        with self._cond:
            stats = []
            for name, queue in self._queues.items():
                self._drop_expired(queue, now)
                if queue:
                    oldest = queue[0][0] - self.expiry
                    stats.append((name, len(queue), now - oldest))
            return stats

    def _record_heartbeat(self, ident, data, ttl):
        with self._cond:
            self._heartbeat_records[ident] = (time.monotonic() + ttl, data)

    def _heartbeats(self):
        now = time.monotonic()
        with self._cond:
            for ident in [
                k for k, (expires, _) in self._heartbeat_records.items() if expires <= now
            ]:
                del self._heartbeat_records[ident]
            return [data for _, (_, data) in sorted(self._heartbeat_records.items())]

    def flush_scope(self) -> list[str]:
        """What :meth:`flush` deletes: this object's queues, nothing elsewhere."""
        return [
            f"the queued messages, groups and heartbeats backend {self.alias!r} keeps in the "
            f"memory of process {os.getpid()} only; every other process, running servers "
            "included, keeps its own"
        ]

    def _flush(self):
        with self._cond:
            self._heartbeat_records.clear()
            self._queues.clear()
            self._counts.clear()
            self._groups.clear()
