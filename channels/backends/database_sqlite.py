"""SQLite under the database backend: WAL, and no disk flush per commit.

Channel messages are at-most-once and expire within seconds, so the
backend's commits need not wait for the disk. :func:`tune_sqlite` switches
every connection of an alias to WAL (readers no longer block the writer)
with ``synchronous = NORMAL`` (a commit appends to the WAL without a flush;
checkpoints flush). A power loss or OS crash can then undo the last commits
on that database, never corrupt it.
"""

from __future__ import annotations

import logging
import threading

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
