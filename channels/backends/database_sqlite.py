"""SQLite under the database backend: WAL, and no disk flush per commit.

Channel messages are at-most-once and expire within seconds, so the
backend's commits need not wait for the disk. :func:`tune_sqlite` switches
every connection of an alias to WAL (readers no longer block the writer)
with ``synchronous = NORMAL`` (a commit appends to the WAL without a flush;
checkpoints flush). A power loss or OS crash can then undo the last commits
on that database, never corrupt it.

SQLite has no notifications either: :class:`SQLitePolling` is how a blocked
receiver notices a message from another process without reading the table
on every poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created

logger = logging.getLogger("channels.backends.database")

_tuned_aliases: set[str] = set()
_tuned_lock = threading.Lock()


def tune_sqlite(db_alias: str) -> None:
    """Make every connection to SQLite alias ``db_alias`` use WAL with
    ``synchronous = NORMAL`` from now on (and this thread's, if open).

    Both apply to everything on that database, which is why
    docs/backends.rst suggests a DB_ALIAS of its own where the project's
    data needs every commit flushed.
    """
    with _tuned_lock:
        if db_alias in _tuned_aliases:
            return
        _tuned_aliases.add(db_alias)
        if len(_tuned_aliases) == 1:
            connection_created.connect(_on_connection_created, dispatch_uid="channels-sqlite")
    connection = connections[db_alias]
    if connection.connection is not None and not connection.in_atomic_block:
        _apply_pragmas(connection)


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.alias in _tuned_aliases and connection.vendor == "sqlite":
        _apply_pragmas(connection)


def _apply_pragmas(connection) -> None:
    with connection.cursor() as cursor:
        # journal_mode=WAL is kept in the file; it fails inside a
        # transaction (the next connection then sets it) and is a no-op for
        # in-memory databases.
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except DatabaseError as exc:
            logger.info("could not switch %s to WAL now: %s", connection.alias, exc)
        cursor.execute("PRAGMA synchronous=NORMAL")


class SQLitePolling:
    """How a blocked receiver of
    :class:`~channels.backends.database.DatabaseChannelBackend` polls SQLite
    (or PostgreSQL while its LISTEN connection is down): it sleeps on the
    process signal, which senders in this process bump, and on SQLite looks
    again only once ``PRAGMA data_version`` says another connection
    committed. The sleep starts at POLL_MIN after the thread last received
    and grows by POLL_GROWTH per poll up to POLL_MAX."""

    db_alias: str
    POLL_MIN: float
    POLL_MAX: float
    POLL_GROWTH: float
    _poll: Any  # threading.local: delay
    _signal: Any

    def _received_now(self) -> None:
        """Note that this thread received: its polls go back to POLL_MIN."""
        self._poll.delay = self.POLL_MIN

    def _poll_until_commit(self, seq: int, version: int | None, deadline: float) -> bool:
        """Sleep until a send in this process (``seq`` moved), a commit by
        another connection (the data_version moved from ``version``; None:
        unknown, so after one sleep), or ``deadline``; False if nothing
        moved before the deadline (no need to look again).

        The sleep between polls carries over between calls of one thread,
        so a worker looping on short blocking receives stays at the slow rate
        while idle instead of restarting at POLL_MIN every call.
        """
        poll = self._poll
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return version is None
            delay = getattr(poll, "delay", self.POLL_MIN)
            poll.delay = min(delay * self.POLL_GROWTH, self.POLL_MAX)
            self._wait_locally(seq, min(delay, remaining))
            if version is None or self._signal.seq != seq or self._data_version() != version:
                return True

    def _data_version(self) -> int | None:
        """SQLite's ``PRAGMA data_version`` on this thread's connection: it
        moves when another connection commits (None if it cannot be read)."""
        connection = connections[self.db_alias]
        try:
            connection.ensure_connection()
            return connection.connection.execute("PRAGMA data_version").fetchone()[0]
        except Exception:  # a failure shows on the next look, through _run
            return None

    def _wait_locally(self, seq: int, timeout: float) -> None:
        """Sleep up to ``timeout`` unless a send in this process came since ``seq``."""
        with self._signal.cond:
            if self._signal.seq == seq:
                self._signal.cond.wait(timeout)
