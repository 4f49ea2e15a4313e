"""A channel backend on Django's database, for SQLite and PostgreSQL.

Messages and group memberships live in two tables (:mod:`channels.models`,
created by ``manage.py migrate channels``). Each process talks to them through
the Django connection of the ``DB_ALIAS`` database, so the backend works with
whatever the project already configured.

Delivery is one atomic statement, so no two receivers ever get the same row::

    DELETE FROM channels_message WHERE id = (
        SELECT id ... ORDER BY id LIMIT 1 [FOR UPDATE SKIP LOCKED]
    ) RETURNING channel, content

``SKIP LOCKED`` (PostgreSQL) lets concurrent receivers take different rows
instead of queueing behind one another; SQLite runs every write statement
under its database-wide write lock, which gives the same guarantee.

Waiting for a message:

* PostgreSQL: each backend object holds one extra autocommit psycopg
  connection that LISTENs on :attr:`DatabaseChannelBackend.NOTIFY_CHANNEL`.
  ``send`` NOTIFYs in the same transaction as its INSERT, with the inbox name
  as payload, so a blocked receiver wakes when (and only when) a message for
  one of its channels commits. An idle worker makes one query per receive
  call and otherwise sleeps in the kernel.
* SQLite has no notifications: a blocked receiver polls ``PRAGMA
  data_version`` (which moves when another connection commits; no table
  read), first :attr:`~DatabaseChannelBackend.POLL_MIN` after it last
  received, backing off to :attr:`~DatabaseChannelBackend.POLL_MAX` when
  idle, and looks for a message only when it moved; senders in the same
  process wake it at once through a condition variable.

Expired rows are never delivered (every read filters on ``expires``) and are
deleted in batches at most every :attr:`~DatabaseChannelBackend.CLEANUP_INTERVAL`
seconds per process, piggy-backed on send and receive.

Timestamps are the sender's and receiver's ``time.time()``; keep the clocks
of hosts sharing one database in sync (NTP), as expiry depends on them.

No disk flush per message (channel messages are at-most-once and expire):

* PostgreSQL: ``channels_message`` is UNLOGGED (migration 0004), so a
  transaction touching only it commits without waiting for the WAL to reach
  disk; a send is one statement (the ``channels_send`` function: lock,
  capacity check, insert, NOTIFY), a receive one ``DELETE ... RETURNING``,
  and so are a batch of sends and a worker's turn (its replies and the look
  for its next message; :mod:`.database_batches`, migration 0005).
  The backend's own writes to the group and heartbeat tables commit with
  ``synchronous_commit = off`` (never inside a transaction of the caller's).
* SQLite: the backend's connections use WAL and ``synchronous = NORMAL``:
  a commit appends to the WAL without a flush; checkpoints flush.

What a crash can lose is in docs/backends.rst.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, TypeVar

from django.db import DatabaseError, connections

from ..exceptions import ImproperlyConfiguredBackend
from ..names import inbox_of
from .base import BaseChannelBackend
from .database_access import Attempt, DatabaseAccess
from .database_batches import ADVISORY_LOCK_CLASS, PostgresBatches
from .database_receiving import DatabaseReceiving
from .database_sqlite import SQLitePolling, tune_sqlite
from .database_wakeup import PostgresListener, signal_for

logger = logging.getLogger(__name__)

T = TypeVar("T")


class DatabaseChannelBackend(
    DatabaseReceiving, PostgresBatches, SQLitePolling, DatabaseAccess, BaseChannelBackend
):
    """Channels in Django database tables (SQLite or PostgreSQL).

    Extra option: ``DB_ALIAS`` ("default"), the ``DATABASES`` alias holding
    the tables. The tables come from this app's migration, so run
    ``manage.py migrate channels --database <DB_ALIAS>`` once. Rows carry
    this backend's own alias, so several aliases may share the tables, each
    with its own channels, groups and heartbeats.

    Thread-safe: Django gives each thread its own database connection; the
    PostgreSQL LISTEN connection is shared under a lock.

    A hold is ``count`` empty rows of the channel in no inbox (``inbox`` is
    ``HOLD_INBOX``, which no receiver asks for): the capacity check counts
    them like messages, and they expire like messages.
    """

    extensions = BaseChannelBackend.extensions + ("hold",)
    extra_options = ("DB_ALIAS",)
    #: The inbox of held rows: not a valid name, so never received.
    HOLD_INBOX = ""

    #: First and longest sleep between polls of a blocked receiver on
    #: SQLite. A poll asks only whether another connection has committed
    #: (``PRAGMA data_version``, no table read); only then does the receiver
    #: look for a message. Polling starts fast after the thread last
    #: received (a message that comes while a receiver is busy is seen
    #: within a millisecond) and backs off by POLL_GROWTH to POLL_MAX
    #: (reached after about 0.3 s of finding nothing). A receiver that kept
    #: polling fast for a while after each message (tried: 1 ms for 20 ms)
    #: took every message from competing receivers that had backed off.
    POLL_MIN = 0.001
    POLL_MAX = 0.1
    POLL_GROWTH = 1.5
    #: Seconds between two sweeps of expired rows (per process and alias).
    CLEANUP_INTERVAL = 5.0
    #: Most rows one sweep deletes per table, so a sweep holds locks briefly.
    CLEANUP_BATCH = 5000
    #: The PostgreSQL LISTEN/NOTIFY channel; the payload is the inbox name.
    NOTIFY_CHANNEL = "channels_message"
    #: How long a look that found a receiver's channels empty spares the
    #: receiver another look while no NOTIFY for them came (PostgreSQL).
    KNOWN_EMPTY_FOR = 1.0

    def __init__(self, alias: str = "default", **options: Any) -> None:
        super().__init__(alias, **options)
        db_alias = options.get("DB_ALIAS", "default")
        if not isinstance(db_alias, str) or db_alias not in list(connections):
            raise ImproperlyConfiguredBackend(
                f"DB_ALIAS {db_alias!r} is not a key of DATABASES "
                f"(configured: {', '.join(connections) or 'none'})"
            )
        self.db_alias = db_alias
        if len(alias) > 100:
            raise ImproperlyConfiguredBackend(
                f"CHANNEL_BACKENDS alias {alias[:20]!r}... is over 100 characters, the "
                "length of the column that records it"
            )
        # Reading .vendor does not connect: it comes from the ENGINE setting.
        self.vendor = connections[db_alias].vendor
        if self.vendor not in ("sqlite", "postgresql"):
            raise ImproperlyConfiguredBackend(
                f"DatabaseChannelBackend supports SQLite and PostgreSQL; DATABASES"
                f"[{db_alias!r}] is {self.vendor}"
            )
        self._postgres = self.vendor == "postgresql"
        from ..models import GroupMembership, Heartbeat, QueuedMessage

        self._messages = QueuedMessage._meta.db_table
        self._groups = GroupMembership._meta.db_table
        self._heartbeat_table = Heartbeat._meta.db_table
        self._signal = signal_for(db_alias)
        # PostgreSQL LISTEN connection: made on the first blocking receive.
        self._listener = (
            PostgresListener(db_alias, self.NOTIFY_CHANNEL, self._signal, repr(self))
            if self._postgres
            else None
        )
        # Per thread: the current sleep between polls (SQLite).
        self._poll = threading.local()
        # Messages of a process inbox taken in one statement, waiting to be
        # returned: inbox -> (channel, content, expires).
        self._prefetched: dict[str, collections.deque[tuple[str, bytes, float]]] = {}
        self._prefetch_lock = threading.Lock()
        # PostgreSQL: per list of channels received, when a look last found
        # them empty (monotonic time) and the listener's mark then (see
        # PostgresListener.mark).
        self._empty_at: dict[tuple[str, ...], tuple[float, tuple[int, ...]]] = {}
        if not self._postgres:
            tune_sqlite(db_alias)

    # --- sending ----------------------------------------------------------------

    def _send(self, channel: str, data: bytes, capacity: int) -> None:
        expires = time.time() + self.expiry
        sent = self._run(
            lambda conn, attempt: self._insert(conn, attempt, channel, data, capacity, expires)
        )
        if not sent:
            raise self.full_error(channel, capacity)
        self._signal.bump()
        self._maybe_cleanup()

    def _send_group(self, group: str, data: bytes) -> tuple[int, int]:
        expires = time.time() + self.expiry

        def fan_out(connection, attempt: Attempt) -> tuple[int, int]:
            sent = skipped = 0
            with self._write_transaction(connection) as cursor:
                cursor.execute(
                    f"SELECT channel FROM {self._groups} "
                    "WHERE backend = %s AND group_name = %s AND expires > %s",
                    [self.alias, group, time.time()],
                )
                # Sorted, so concurrent group sends take the per-channel
                # advisory locks in one order and cannot deadlock.
                members = sorted(row[0] for row in cursor.fetchall())
                for channel in members:
                    capacity = self.capacity_for(channel)
                    if self._insert_in(cursor, attempt, channel, data, capacity, expires):
                        sent += 1
                    else:
                        skipped += 1
            return sent, skipped

        sent, skipped = self._run(fan_out)
        if sent:
            self._signal.bump()
        self._maybe_cleanup()
        return sent, skipped

    def _insert(self, connection, attempt: Attempt, channel, data, capacity, expires) -> bool:
        # One statement on either database (its own transaction unless the
        # caller has one open).
        with connection.cursor() as cursor:
            return self._insert_in(cursor, attempt, channel, data, capacity, expires)

    def _insert_in(self, cursor, attempt: Attempt, channel, data, capacity, expires) -> bool:
        """Insert one message unless its channel is full; True if inserted."""
        inbox = inbox_of(channel)
        attempt.maybe_written = True
        if self._postgres:
            # Lock, count, insert and NOTIFY in one round trip (migration
            # 0004); the NOTIFY is delivered at commit, with the row, so a
            # receiver that wakes on it always finds the message.
            cursor.execute(
                "SELECT channels_send(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    ADVISORY_LOCK_CLASS, self.alias, inbox, channel, data, expires, time.time(),
                    capacity, self.NOTIFY_CHANNEL,
                ],
            )  # fmt: skip
            return bool(cursor.fetchone()[0])
        # SQLite: one statement, run under the database write lock.
        cursor.execute(
            f"INSERT INTO {self._messages} (backend, inbox, channel, content, expires) "
            f"SELECT %s, %s, %s, %s, %s WHERE ("
            f"SELECT count(*) FROM {self._messages} "
            f"WHERE backend = %s AND channel = %s AND expires > %s"
            f") < %s",
            [self.alias, inbox, channel, data, expires, self.alias, channel, time.time(), capacity],
        )
        return cursor.rowcount == 1

    # --- holding capacity -------------------------------------------------------

    def _hold(self, channel: str, count: int) -> None:
        rows = [(self.alias, self.HOLD_INBOX, channel, b"", time.time() + self.expiry)] * count

        def insert(connection, attempt: Attempt) -> None:
            attempt.maybe_written = True  # a retry could hold twice
            with self._write_transaction(connection) as cursor:
                cursor.executemany(
                    f"INSERT INTO {self._messages} (backend, inbox, channel, content, expires) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    rows,
                )

        self._run(insert)

    def _release(self, channel: str, count: int) -> None:
        def delete(connection, attempt: Attempt) -> None:
            attempt.maybe_written = True  # a retry could release twice
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {self._messages} WHERE id IN (SELECT id FROM {self._messages} "
                    "WHERE backend = %s AND channel = %s AND inbox = %s LIMIT %s)",
                    [self.alias, channel, self.HOLD_INBOX, count],
                )

        self._run(delete)

    # --- groups -----------------------------------------------------------------

    def _group_add(self, group: str, channel: str) -> None:
        from ..models import GroupMembership

        expires = time.time() + self.group_expiry
        self._run(
            lambda conn, attempt: self._without_flush(
                conn,
                lambda: GroupMembership.objects.using(self.db_alias).bulk_create(
                    [
                        GroupMembership(
                            backend=self.alias, group_name=group, channel=channel, expires=expires
                        )
                    ],
                    update_conflicts=True,
                    unique_fields=["backend", "group_name", "channel"],
                    update_fields=["expires"],
                ),
            )
        )

    def _group_discard(self, group: str, channel: str) -> None:
        from ..models import GroupMembership

        self._run(
            lambda conn, attempt: self._without_flush(
                conn,
                lambda: (
                    GroupMembership.objects.using(self.db_alias)
                    .filter(backend=self.alias, group_name=group, channel=channel)
                    .delete()
                ),
            )
        )

    def _group_channels(self, group: str) -> list[str]:
        from ..models import GroupMembership

        return self._run(
            lambda conn, attempt: list(
                GroupMembership.objects.using(self.db_alias)
                .filter(backend=self.alias, group_name=group, expires__gt=time.time())
                .order_by("id")
                .values_list("channel", flat=True)
            )
        )

    # --- operations (channel stats, heartbeats) -----------------------------------

    def _channel_stats(self) -> list[tuple[str, int, float | None]]:
        now = time.time()

        def stats(connection, attempt):
            with connection.cursor() as cursor:
                # A message's age is its expiry minus EXPIRY, taken backwards.
                cursor.execute(
                    f"SELECT inbox, count(*), min(expires) FROM {self._messages} "
                    "WHERE backend = %s AND expires > %s AND inbox <> %s GROUP BY inbox",
                    [self.alias, now, self.HOLD_INBOX],
                )
                return [
                    (inbox, count, max(0.0, now - (oldest - self.expiry)))
                    for inbox, count, oldest in cursor.fetchall()
                ]

        return self._run(stats)

    def _record_heartbeat(self, ident: str, data: bytes, ttl: float) -> None:
        from ..models import Heartbeat

        self._run(
            lambda conn, attempt: self._without_flush(
                conn,
                lambda: Heartbeat.objects.using(self.db_alias).bulk_create(
                    [
                        Heartbeat(
                            backend=self.alias, ident=ident, content=data, expires=time.time() + ttl
                        )
                    ],
                    update_conflicts=True,
                    unique_fields=["ident"],
                    update_fields=["content", "expires"],
                ),
            )
        )

    def _heartbeats(self) -> list[bytes]:
        from ..models import Heartbeat

        return self._run(
            lambda conn, attempt: [
                bytes(data)
                for data in Heartbeat.objects.using(self.db_alias)
                .filter(backend=self.alias, expires__gt=time.time())
                .order_by("ident")
                .values_list("content", flat=True)
            ]
        )

    # --- housekeeping -------------------------------------------------------------

    def flush_scope(self) -> list[str]:
        """What :meth:`flush` deletes: this alias's rows of the three tables."""
        settings = connections[self.db_alias].settings_dict
        where = f"{self.vendor} database {settings.get('NAME')!s}"
        return [
            f"from database {self.db_alias!r} ({where}), the rows of backend {self.alias!r} in",
            f"  {self._messages}  queued messages",
            f"  {self._groups}  group memberships",
            f"  {self._heartbeat_table}  heartbeats of workers and interface servers",
            "and no others: rows of other CHANNEL_BACKENDS aliases in these tables are kept.",
        ]

    def _flush(self) -> None:
        with self._prefetch_lock:
            self._prefetched.clear()

        def delete_own(connection, attempt):
            with self._write_transaction(connection) as cursor:
                for table in (self._messages, self._groups, self._heartbeat_table):
                    cursor.execute(f"DELETE FROM {table} WHERE backend = %s", [self.alias])

        self._run(delete_own)

    def close(self) -> None:
        """Close the LISTEN connection (the Django connections are Django's)."""
        if self._listener is not None:
            self._listener.drop()

    def _maybe_cleanup(self) -> None:
        """Delete expired rows, at most every CLEANUP_INTERVAL seconds."""
        now = time.time()
        signal = self._signal
        with signal.cond:
            if now - signal.last_cleanup < self.CLEANUP_INTERVAL:
                return
            signal.last_cleanup = now
        connection = connections[self.db_alias]
        if connection.in_atomic_block:
            # Never risk aborting the caller's transaction for housekeeping.
            signal.last_cleanup = 0.0
            return
        self.cleanup(now)

    def cleanup(self, now: float | None = None) -> int:
        """Delete up to CLEANUP_BATCH expired messages and memberships each.

        Runs by itself every few seconds; returns how many rows went.
        Failures are logged, not raised: expired rows are never delivered
        anyway, so a missed sweep only costs disk space until the next one.
        """
        now = time.time() if now is None else now
        lock = " FOR UPDATE SKIP LOCKED" if self._postgres else ""
        deleted = 0
        connection = connections[self.db_alias]
        try:
            with connection.cursor() as cursor:
                for table in (self._messages, self._groups, self._heartbeat_table):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
                        f"WHERE expires <= %s LIMIT {int(self.CLEANUP_BATCH)}{lock})",
                        [now],
                    )
                    deleted += max(cursor.rowcount, 0)
        except DatabaseError as exc:
            logger.warning("channel backend %r could not delete expired rows: %s", self, exc)
        return deleted

    def __repr__(self) -> str:
        return f"<{type(self).__name__} alias={self.alias!r} db={self.db_alias!r}>"
