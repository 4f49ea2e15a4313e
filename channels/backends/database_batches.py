"""Batches on PostgreSQL: several sends, or a worker's turn, in one statement.

The functions ``channels_send_many`` and ``channels_send_pop`` (migration
0005) take the batch as arrays: an interface server's queued sends go in
one round trip and one commit, and a worker's turn (its consumer's replies,
then a look for its next message) is one statement instead of a send per
reply and a receive. SQLite keeps one statement per send (see
:meth:`PostgresBatches._send_many`). Kept apart from :mod:`.database`, which
holds the single-message paths.
"""

from __future__ import annotations

import time
from typing import Any

from ..names import inbox_of
from .database_access import Attempt

# First key of the two-key advisory lock that guards a channel's capacity
# check: "chan" in ASCII, so these locks cannot collide with single-key
# advisory locks the project takes for its own purposes.
ADVISORY_LOCK_CLASS = 0x6368616E


class PostgresBatches:
    """The batched paths of
    :class:`~channels.backends.database.DatabaseChannelBackend`; on SQLite
    they fall back to the contract's defaults (one statement per send)."""

    alias: str
    expiry: float
    _postgres: bool
    NOTIFY_CHANNEL: str
    HOLD_INBOX: str
    _run: Any
    _signal: Any
    _maybe_cleanup: Any
    _receive: Any
    _received_now: Any
    _note_empty: Any
    _listener: Any
    full_error: Any

    def _send_many(self, items: list[tuple[str, bytes, int]]) -> list[Exception | None]:
        # An interface server's queued sends in one statement and commit on
        # PostgreSQL. SQLite keeps one statement each: a transaction of
        # several would hold the database's write lock across Python code
        # (and GIL switches), stalling other processes' writers, whose busy
        # handler then sleeps for milliseconds (bench/RESULTS.md, phase 3).
        if len(items) < 2 or not self._postgres:
            return super()._send_many(items)
        expires = time.time() + self.expiry
        try:
            done = self._run(
                lambda conn, attempt: self._insert_many(conn, attempt, items, expires, False)
            )
        except Exception as exc:  # the batch is atomic: none of it was sent
            return [exc] * len(items)
        if any(done):
            self._signal.bump()
        self._maybe_cleanup()
        return [
            None if ok else self.full_error(channel, capacity)
            for ok, (channel, _, capacity) in zip(done, items, strict=True)
        ]

    def _insert_many(
        self, connection, attempt: Attempt, items, expires: float, stop_at_full: bool
    ) -> list[bool]:
        """PostgreSQL: insert ``items`` in order, each unless its channel is
        full; one boolean per item tried (with ``stop_at_full``, up to the
        first full)."""
        attempt.maybe_written = True
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT channels_send_many(%s, %s, %s, %s, %s, "
                "%s::text[], %s::text[], %s::bytea[], %s::float8[], %s::integer[])",
                [
                    ADVISORY_LOCK_CLASS, self.alias, time.time(), self.NOTIFY_CHANNEL,
                    stop_at_full, *self._send_arrays(items, expires),
                ],
            )  # fmt: skip
            return list(cursor.fetchone()[0])

    def _send_arrays(self, items, expires: float) -> list[list]:
        """The batch as the array arguments of the PostgreSQL send functions."""
        return [
            [inbox_of(channel) for channel, _, _ in items],
            [channel for channel, _, _ in items],
            [data for _, data, _ in items],
            [expires] * len(items),
            [capacity for _, _, capacity in items],
        ]

    def _send_and_receive(
        self, items: list[tuple[str, bytes, int]], channels: list[str], timeout: float
    ) -> tuple[int, Exception | None, str | None, bytes | None]:
        """Send the items (stopping at the first full channel) and, if all
        went, take the next waiting message: one statement on PostgreSQL
        (``channels_send_pop``). Only if nothing was waiting and ``timeout``
        allows does the usual blocking receive follow.

        The look takes one message, as ``receive_many`` does. An inbox
        received alone is left to ``_receive``, which hands out what an
        earlier statement took for it.
        """
        look = bool(channels) and not (len(channels) == 1 and channels[0].endswith("!"))
        if not self._postgres or (not items and not look):
            # SQLite: one statement at a time, for the reason in _send_many.
            return super()._send_and_receive(items, channels, timeout)
        inboxes, full_names = split_names(channels) if look else ([], [])
        expires = time.time() + self.expiry
        wake_on = {inbox_of(n) for n in channels}
        mark = self._listener.mark(wake_on) if look else None
        try:
            sent, taken = self._run(
                lambda conn, attempt: self._turn(conn, attempt, items, inboxes, full_names, expires)
            )
        except Exception as exc:  # one statement or transaction: none of it happened
            return 0, exc, None, None
        if sent:
            self._signal.bump()
        self._maybe_cleanup()
        if sent < len(items):
            channel, _, capacity = items[sent]
            return sent, self.full_error(channel, capacity), None, None
        if taken is not None:
            self._received_now()
            return sent, None, taken[0], taken[1]
        if look:
            # The look found them empty: the worker's blocking receive that
            # follows can wait without looking again (see _known_empty).
            self._note_empty(channels, mark)
        if channels and (timeout > 0 or not look):
            channel, data = self._receive(channels, timeout)
            return sent, None, channel, data
        return sent, None, None, None

    def _turn(
        self, connection, attempt: Attempt, items, inboxes, full_names, expires: float
    ) -> tuple[int, tuple[str, bytes] | None]:
        """PostgreSQL: the sends, then (if all went and there are channels)
        one pop, in one statement; how many were sent and what was taken."""
        attempt.maybe_written = bool(items)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sent, taken_channel, taken_content FROM channels_send_pop("
                "%s, %s, %s, %s, %s::text[], %s::text[], %s::bytea[], %s::float8[], "
                "%s::integer[], %s::text[], %s::text[], %s)",
                [
                    ADVISORY_LOCK_CLASS, self.alias, time.time(), self.NOTIFY_CHANNEL,
                    *self._send_arrays(items, expires), inboxes, full_names, self.HOLD_INBOX,
                ],
            )  # fmt: skip
            sent, channel, content = cursor.fetchone()
        return sent, (None if channel is None else (channel, bytes(content)))


def split_names(channels: list[str]) -> tuple[list[str], list[str]]:
    """Names matched on the inbox column (plain names and ``"prefix!"``), and
    full ``"prefix!suffix"`` names of one process-local channel each."""
    return (
        [n for n in channels if inbox_of(n) == n],
        [n for n in channels if inbox_of(n) != n],
    )
