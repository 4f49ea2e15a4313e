"""How the database backend talks to Django's connections: one operation
retried on a fresh connection when that cannot send a message twice, write
transactions that take SQLite's lock up front, and commits of the backend's
own writes without waiting for a disk flush.

Kept apart from :mod:`.database`, which says what is written; this says how
it gets there safely across database restarts and idle-connection timeouts.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import DatabaseError, connections, transaction

from ..exceptions import BackendUnavailable

logger = logging.getLogger("channels.backends.database")

T = TypeVar("T")


class Attempt:
    """Tracks whether an operation may already have written, so a retry
    after a dropped connection never sends one message twice."""

    __slots__ = ("maybe_written",)

    def __init__(self) -> None:
        self.maybe_written = False


class DatabaseAccess:
    """The connection handling of
    :class:`~channels.backends.database.DatabaseChannelBackend`.

    Uses the backend's ``alias``, ``db_alias`` and ``_postgres``.
    """

    alias: str
    db_alias: str
    _postgres: bool

    def _without_flush(self, connection, write: Callable[[], T]) -> T:
        """Run ``write`` in a transaction that commits without waiting for a
        disk flush (PostgreSQL; ``synchronous_commit = off``).

        Only in a transaction of our own: inside the caller's, the setting
        would weaken the durability of the caller's own writes, so there
        ``write`` just runs. A crash of the server can then undo the last
        fraction of a second of such writes, never leave them half done.
        """
        if not self._postgres or connection.in_atomic_block:
            return write()
        with transaction.atomic(using=self.db_alias):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            return write()

    @contextmanager
    def _write_transaction(self, connection) -> Iterator[Any]:
        """A transaction of several statements; yields a cursor.

        On SQLite it is ``BEGIN IMMEDIATE``: a deferred transaction that reads
        before it writes fails at once with "database is locked" when another
        connection writes first, instead of waiting for the lock.
        """
        if self._postgres or connection.in_atomic_block:
            with transaction.atomic(using=self.db_alias), connection.cursor() as cursor:
                yield cursor
            return
        with connection.cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                if connection.connection is not None and connection.connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _run(self, operation: Callable[[Any, Attempt], T]) -> T:
        """Run ``operation(connection, attempt)`` on this thread's connection.

        A long-running worker outlives database restarts and idle-connection
        timeouts: when the connection fails, it is closed and the operation
        retried once on a new one, unless the caller holds a transaction
        open or the operation may already have written. Anything else is
        :class:`BackendUnavailable`.
        """
        for tries_left in (1, 0):
            connection = connections[self.db_alias]
            attempt = Attempt()
            if self._postgres:
                _drop_if_closed_by_server(connection)
            try:
                return operation(connection, attempt)
            except DatabaseError as exc:
                error = exc
                if _missing_table(exc):
                    raise BackendUnavailable(
                        f"the channel tables are missing from database {self.db_alias!r}: "
                        f"run `manage.py migrate channels --database {self.db_alias}` ({exc})"
                    ) from exc
                if tries_left and not attempt.maybe_written and not connection.in_atomic_block:
                    logger.info("channel backend %r reconnecting after: %s", self, exc)
                    try:
                        connection.close()
                    except DatabaseError:
                        pass  # it was broken; Django has forgotten it either way
                    continue
                break
        raise BackendUnavailable(
            f"database {self.db_alias!r} of channel backend {self.alias!r} is unavailable: {error}"
        ) from error


def _drop_if_closed_by_server(connection) -> None:
    """Close a PostgreSQL connection the server has already ended.

    A send is one statement, so once it is on the wire a failure cannot
    tell whether it ran, and it is not retried. A server that ended the
    connection (restart, idle timeout, pg_terminate_backend) has said so on
    the socket, which is then readable while idle: seeing that first (one
    poll, no round trip) lets the send go out on a fresh connection.
    """
    raw = connection.connection
    if raw is None or connection.in_atomic_block:
        return
    try:
        readable, _, _ = select.select([raw.fileno()], [], [], 0)
    except (OSError, ValueError):
        readable = True  # closed or unusable: a new one is needed anyway
    if readable:
        try:
            connection.close()
        except DatabaseError:
            pass  # it was broken; Django has forgotten it either way


def _missing_table(exc: DatabaseError) -> bool:
    text = str(exc)
    return (
        "no such table" in text
        or ("relation" in text and "does not exist" in text)
        or ("function channels_send" in text and "does not exist" in text)
    )
