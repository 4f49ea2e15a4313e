"""The database backend's receive path: one look (a ``DELETE ...
RETURNING`` of the oldest live rows), then waiting for a commit that may
have brought a message (LISTEN on PostgreSQL, polls on SQLite).

Kept apart from :mod:`.database`, which holds the sending side, groups and
housekeeping. A process inbox read alone (an interface server's loop) takes
up to INBOX_BATCH rows per statement and hands them out from memory; on
PostgreSQL a look that found the channels empty spares the next blocking
receive another look until a NOTIFY for one of them comes.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from ..names import inbox_of
from .database_batches import split_names

#: Messages taken from a process inbox in one statement when it is the only
#: channel received (an interface server's loop).
INBOX_BATCH = 100


class DatabaseReceiving:
    """The receiving half of
    :class:`~channels.backends.database.DatabaseChannelBackend`.

    Uses the backend's ``alias``, ``_messages`` (table), ``_postgres``,
    ``_run`` (:mod:`.database_access`), ``_signal`` and ``_listener``
    (:mod:`.database_wakeup`), the polling of :mod:`.database_sqlite`, and
    the prefetch and known-empty state the backend sets up.
    """

    alias: str
    HOLD_INBOX: str
    KNOWN_EMPTY_FOR: float
    _messages: str
    _postgres: bool
    _run: Any
    _signal: Any
    _listener: Any
    _maybe_cleanup: Any
    _received_now: Any
    _data_version: Any
    _poll_until_commit: Any
    _prefetched: dict[str, collections.deque[tuple[str, bytes, float]]]
    _prefetch_lock: threading.Lock
    _empty_at: dict[tuple[str, ...], tuple[float, tuple[int, ...]]]

    def _receive(
        self, channels: list[str], timeout: float
    ) -> tuple[str, bytes] | tuple[None, None]:
        # Names ending in "!" (and plain names) match the inbox column; a
        # full "prefix!suffix" name asks for that one process-local channel.
        inboxes, full_names = split_names(channels)
        wake_on = {inbox_of(n) for n in channels}
        deadline = time.monotonic() + timeout
        if timeout > 0 and self._postgres:
            # LISTEN before the first look, so a message committed between
            # the look and the wait still wakes us.
            self._listener.ensure()
        # A process inbox alone (an interface server's loop) is read by its
        # owner only, so several of its messages may be taken at once and
        # handed out from memory: one statement per burst, not per message.
        inbox = channels[0] if len(channels) == 1 and channels[0].endswith("!") else None
        limit = INBOX_BATCH if inbox else 1
        while True:
            if inbox is not None:
                found = self._take_prefetched(inbox)
                if found is not None:
                    return found
            seq = self._signal.seq
            # Before the look, so a commit between the look and the poll shows.
            version = None if self._postgres else self._data_version()
            if timeout > 0 and self._known_empty(channels, wake_on):
                rows = []  # nothing came since a look found them empty: just wait
            else:
                mark = self._listener.mark(wake_on) if self._listener else None
                rows = self._run(lambda conn, attempt: self._pop(conn, inboxes, full_names, limit))
                # Fewer rows than asked for: the channels were empty as of
                # this look, and stay so until a NOTIFY for one is read.
                self._note_empty(channels, mark if len(rows) < limit else None)
            self._maybe_cleanup()
            if rows:
                self._received_now()
                if len(rows) > 1:
                    with self._prefetch_lock:
                        self._prefetched.setdefault(inbox, collections.deque()).extend(rows[1:])
                return rows[0][0], rows[0][1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, None
            if self._listener is not None and self._listener.connection is not None:
                self._listener.wait(wake_on, seq, remaining)
            elif self._listener is not None and self._listener.ensure():
                continue  # listening again after a failure: look before waiting
            elif not self._poll_until_commit(seq, version, deadline):
                return None, None

    def _known_empty(self, channels: list[str], wake_on: set[str]) -> bool:
        """PostgreSQL: whether a look at ``channels`` (a receive's, or a
        worker's turn's) found them empty and no NOTIFY for one of them has
        been read since (the listener drained first), so a blocking receive
        can go straight to waiting. Every message committed after that look
        sends a NOTIFY, which ends the wait. A message another receiver had
        locked (SKIP LOCKED) during the look comes back without one if that
        receiver's statement fails: so the knowledge is trusted for
        KNOWN_EMPTY_FOR seconds only, then a look is made again.
        """
        noted = self._empty_at.get(tuple(channels))
        listener = self._listener
        return (
            noted is not None
            and time.monotonic() - noted[0] < self.KNOWN_EMPTY_FOR
            and listener is not None
            and listener.drain()
            and listener.mark(wake_on) == noted[1]
        )

    def _note_empty(self, channels: list[str], mark: tuple[int, ...] | None) -> None:
        """Remember (or, with None, forget) that a look found ``channels`` empty."""
        key = tuple(channels)
        if mark is None:
            self._empty_at.pop(key, None)
            return
        if len(self._empty_at) >= 64:
            # Receivers of ever new channel lists (one reply channel per
            # request) must not grow this without bound.
            self._empty_at.clear()
        self._empty_at[key] = (time.monotonic(), mark)

    def _take_prefetched(self, inbox: str) -> tuple[str, bytes] | None:
        """The next unexpired message taken earlier for ``inbox``, if any."""
        with self._prefetch_lock:
            waiting = self._prefetched.get(inbox)
            now = time.time()
            while waiting:
                channel, content, expires = waiting.popleft()
                if expires > now:
                    return channel, content
        return None

    def _pop(
        self, connection, inboxes: list[str], full_names: list[str], limit: int = 1
    ) -> list[tuple[str, bytes, float]]:
        """Take up to ``limit`` live messages, oldest first."""
        with connection.cursor() as cursor:
            return self._pop_in(cursor, inboxes, full_names, limit)

    def _pop_in(
        self, cursor, inboxes: list[str], full_names: list[str], limit: int
    ) -> list[tuple[str, bytes, float]]:
        """:meth:`_pop` on an open cursor (inside a transaction, or not)."""
        where = []
        params: list[Any] = [self.alias]
        if inboxes:
            where.append(f"inbox IN ({', '.join(['%s'] * len(inboxes))})")
            params.extend(inboxes)
        if full_names:
            # Held rows carry the channel's name too, in no inbox.
            where.append(f"(channel IN ({', '.join(['%s'] * len(full_names))}) AND inbox <> %s)")
            params.extend(full_names)
            params.append(self.HOLD_INBOX)
        params.append(time.time())
        match = (
            f"FROM {self._messages} WHERE backend = %s AND ({' OR '.join(where)}) AND expires > %s"
        )
        if not self._postgres:
            # A plain read first: an idle poll then takes no write lock,
            # which would stall senders in other processes.
            cursor.execute(f"SELECT 1 {match} LIMIT 1", params)
            if cursor.fetchone() is None:
                return []
        lock = " FOR UPDATE SKIP LOCKED" if self._postgres else ""
        cursor.execute(
            f"DELETE FROM {self._messages} WHERE id IN ("
            f"SELECT id {match} ORDER BY id LIMIT {int(limit)}{lock}"
            f") RETURNING id, channel, content, expires",
            params,
        )
        # fetchall: SQLite commits an autocommit statement only once its
        # rows are exhausted.
        rows = cursor.fetchall()
        # RETURNING promises no order: FIFO is by id.
        rows.sort()
        return [(channel, bytes(content), expires) for _, channel, content, expires in rows]
