"""How blocked receivers of the database backend wake up.

Inside one process, a :class:`ProcessSignal` per database alias wakes every
waiting receiver as soon as a send commits. Across processes, SQLite has
nothing better than polling; PostgreSQL has LISTEN/NOTIFY, which
:class:`PostgresListener` reads on one extra connection per backend object.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.db import connections

from ..exceptions import ImproperlyConfiguredBackend

logger = logging.getLogger("channels.backends.database")


class ProcessSignal:
    """What the receivers of one database alias share inside a process.

    ``seq`` counts wake-ups: a receiver notes it before looking for a message
    and waits only if it has not moved since, so a send that lands between
    the look and the wait is never slept through.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = 0
        # Cleanup is per process and alias, not per backend object: many
        # objects on one database must not each run their own sweeps.
        self.last_cleanup = 0.0

    def bump(self) -> None:
        """Wake every receiver waiting on this signal."""
        with self.cond:
            self.seq += 1
            self.cond.notify_all()


_signals: dict[str, ProcessSignal] = {}
_signals_lock = threading.Lock()


def signal_for(db_alias: str) -> ProcessSignal:
    """The process-wide signal of database ``db_alias``."""
    with _signals_lock:
        signal = _signals.get(db_alias)
        if signal is None:
            signal = _signals[db_alias] = ProcessSignal()
        return signal


class PostgresListener:
    """One autocommit psycopg connection LISTENing on ``notify_channel``.

    Shared by the threads of one backend object: one thread at a time reads
    it and passes every notification on through the process signal.
    """

    #: After the LISTEN connection fails, receivers poll this long before
    #: it is tried again.
    RETRY_AFTER = 5.0

    def __init__(
        self, db_alias: str, notify_channel: str, signal: ProcessSignal, owner: str
    ) -> None:
        self.db_alias = db_alias
        self.notify_channel = notify_channel
        self.signal = signal
        self.owner = owner  # for log lines
        self.psycopg = import_psycopg()
        self.connection: Any = None
        self._lock = threading.Lock()
        self._pid = 0
        self._retry_at = 0.0
        # Whether a thread is blocked in notifies(); guarded by signal.cond.
        self._reading = False
        # Which connection this is (see mark()): one more per connect.
        self._generation = 0
        # Notifications read so far per payload, for the payloads watch()ed.
        self._heard: dict[str, int] = {}

    def ensure(self) -> bool:
        """Open the connection if needed; False if it cannot be had now."""
        if self.connection is not None and self._pid == os.getpid():
            return True
        if time.monotonic() < self._retry_at:
            return False
        with self._lock:
            if self._pid != os.getpid():
                # Inherited over fork: the socket belongs to the parent.
                self.connection = None
            if self.connection is None:
                try:
                    self.connection = self._connect()
                except self.psycopg.Error as exc:
                    self._retry_at = time.monotonic() + self.RETRY_AFTER
                    logger.warning(
                        "channel backend %s cannot LISTEN (%s); polling for %s s",
                        self.owner,
                        exc,
                        self.RETRY_AFTER,
                    )
                    return False
                self._pid = os.getpid()
                self._generation += 1
        return True

    def mark(self, payloads: Iterable[str]) -> tuple[int, ...] | None:
        """Where the notifications naming ``payloads`` stand (counted from
        the first mark on), or None if not listening: two equal marks mean
        none was read in between, on one and the same LISTEN connection."""
        if self.connection is None or self._pid != os.getpid():
            return None
        return (self._generation, *(self._heard.setdefault(p, 0) for p in sorted(payloads)))

    def drain(self) -> bool:
        """Read the notifications already on the connection, without waiting.

        False if that cannot be done now (another thread is reading it, or
        there is no connection): then nothing is known about what came.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            conn = self.connection
            if conn is None or self._pid != os.getpid():
                return False
            read = False
            for notify in conn.notifies(timeout=0):
                self._heard_one(notify.payload)
                read = True
        except self.psycopg.Error:
            return False  # wait() reports and replaces a broken connection
        finally:
            self._lock.release()
        if read:
            # Threads waiting on the signal may have wanted one of them.
            self.signal.bump()
        return True

    def _heard_one(self, payload: str) -> None:
        if payload in self._heard:
            self._heard[payload] += 1

    def wait(self, wake_on: set[str], seq: int, timeout: float) -> None:
        """Wait for a NOTIFY naming one of ``wake_on``, up to ``timeout``.

        One thread at a time reads the connection; the others wait on the
        process signal, which the reader bumps for every notification.
        """
        signal = self.signal
        with signal.cond:
            if signal.seq != seq:
                return
            if self._reading:
                signal.cond.wait(timeout)
                return
            self._reading = True
        try:
            with self._lock:
                conn = self.connection
                if conn is None:
                    return
                end = time.monotonic() + timeout
                woken = False
                while not woken:
                    left = end - time.monotonic()
                    if left <= 0:
                        return
                    for notify in conn.notifies(timeout=left, stop_after=1):
                        self._heard_one(notify.payload)
                        signal.bump()
                        woken = woken or notify.payload in wake_on
        except self.psycopg.Error as exc:
            logger.warning(
                "channel backend %s lost its LISTEN connection (%s); reconnecting",
                self.owner,
                exc,
            )
            self.drop()
        finally:
            with signal.cond:
                self._reading = False
                signal.cond.notify_all()

    def drop(self) -> None:
        """Close the connection; :meth:`ensure` makes a new one."""
        with self._lock:
            conn, self.connection = self.connection, None
        if conn is not None and self._pid == os.getpid():
            try:
                conn.close()
            except Exception:  # already broken; nothing more to release
                pass

    def _connect(self):
        psycopg = self.psycopg
        params = dict(connections[self.db_alias].get_connection_params())
        # Django's cursor class and adapters are for its own connection only.
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
        try:
            conn.execute(
                psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.notify_channel))
            )
        except BaseException:
            conn.close()
            raise
        return conn


def import_psycopg():
    """psycopg 3.2+ (``notifies(timeout=...)``), or a clear configuration error."""
    try:
        import psycopg
        import psycopg.sql  # noqa: F401  (LISTEN statement)
    except ImportError as exc:
        raise ImproperlyConfiguredBackend(
            "DatabaseChannelBackend on PostgreSQL needs psycopg 3.2 or later for "
            'LISTEN/NOTIFY: pip install "psycopg[binary]>=3.2"'
        ) from exc
    version = tuple(int(p) for p in psycopg.__version__.split(".")[:2] if p.isdigit())
    if version < (3, 2):
        raise ImproperlyConfiguredBackend(
            f"DatabaseChannelBackend needs psycopg 3.2 or later, found {psycopg.__version__}"
        )
    return psycopg
