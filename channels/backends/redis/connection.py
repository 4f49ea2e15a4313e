"""One connection pool per Redis server (:class:`Shard`), whether the server
is reachable right now, and the connection arguments every pool gets.
Which servers there are is read from ``HOSTS`` in :mod:`.hosts`.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from ...exceptions import ImproperlyConfiguredBackend
from ..base import ServerStats
from .hosts import HostSpec, check_connection_arguments
from .scripts import Script

logger = logging.getLogger("channels.backends.redis")

#: What a dropped, refused or timed-out connection raises.
NETWORK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)

#: Receivers that lost a server wait this long before trying again, doubling
#: up to the maximum: quick to notice a restart, gentle on a server that is down.
BACKOFF_START = 0.05
BACKOFF_MAX = 1.0
#: A thread's connection idle longer than this is checked before use.
STALE_CHECK_AFTER = 0.05

# The process id, kept up to date across forks: os.getpid() is a system
# call, and asking it on every request cost ~8 % of a worker's CPU.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def tls_refusal(shard: Shard, error: BaseException) -> ImproperlyConfiguredBackend | None:
    """The configuration error for ``error`` if it is a TLS certificate that
    failed verification (redis-py keeps the ssl error as the context)."""
    seen = error
    while seen is not None and not isinstance(seen, ssl.SSLCertVerificationError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    return ImproperlyConfiguredBackend(
        f"Redis at {shard.ident}: the server's TLS certificate failed verification "
        f"({seen.verify_message or seen}). Give the CA that signed it as ssl_ca_certs "
        "(in the rediss:// URL's query, the HOSTS dict or CONNECTION_KWARGS), or fix "
        "the host name the certificate is for."
    )


class ShardDown(Exception):
    """A server could not be reached or dropped the connection.

    ``sent`` tells whether the request may have reached the server: retrying
    a send that might have been executed could deliver a message twice.
    """

    def __init__(self, shard: Shard, error: BaseException, sent: bool) -> None:
        super().__init__(f"Redis at {shard.ident}: {error}")
        self.shard = shard
        self.error = error
        self.sent = sent


class Shard:
    """One Redis server: its pool, and whether it is reachable right now."""

    def __init__(self, spec: HostSpec, common_kwargs: dict) -> None:
        self.spec = spec
        self.ident = spec.ident
        self._common = common_kwargs
        self._pool: redis.ConnectionPool | None = None
        self._lock = threading.Lock()
        # Receivers back off while a server is down; senders always try.
        self._down_until = 0.0
        self._backoff = 0.0
        self._local = threading.local()
        # Every thread's own connection, so close() can close them all.
        self._own: weakref.WeakSet = weakref.WeakSet()

    @property
    def pool(self) -> redis.ConnectionPool:
        """The connection pool, made on first use (constructors never connect)."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self.spec.make_pool(self._common)
                pool = self._pool
        return pool

    def request(
        self, commands: Iterable[tuple], read_timeout: float | None = None, pooled: bool = False
    ) -> list[Any]:
        """Send ``commands`` pipelined on one connection; return their replies.

        An error reply is returned as its ``ResponseError``; a network
        failure raises :class:`ShardDown`. ``read_timeout`` overrides the
        socket timeout while waiting for the replies (blocking pops).

        The calling thread's own connection is used, which saves the pool's
        locking and bookkeeping on every message (a third of the time of a
        send); ``pooled`` borrows one from the pool instead, for short-lived
        threads that must not each open a connection of their own.
        """
        commands = list(commands)
        if not pooled:
            return self._exchange(self._own_connection(), commands, read_timeout)
        return self._pooled_exchange(self.pool, commands, read_timeout)

    def _pooled_exchange(self, pool: Any, commands: list[tuple], read_timeout) -> list:
        """``commands`` over a connection borrowed from ``pool``."""
        try:
            conn = pool.get_connection()
        except NETWORK_ERRORS as exc:
            raise self._failed(exc, sent=False) from exc
        try:
            return self._exchange(conn, commands, read_timeout)
        finally:
            pool.release(conn)

    def check_tls(self, pool: Any = None) -> None:
        """For a TLS server, one handshake now: a certificate that fails
        verification is a configuration error at start-up, not an outage
        receivers would wait out for ever. A server that cannot be reached
        is left for later, as everywhere else. (A cluster passes the pool
        of a seed node.)"""
        if pool is None:
            pool = self.pool
        if not issubclass(pool.connection_class, redis.SSLConnection):
            return
        conn = pool.connection_class(**pool.connection_kwargs)
        try:
            conn.connect()
        except NETWORK_ERRORS as exc:
            refused = tls_refusal(self, exc)
            if refused is not None:
                raise refused from exc
        finally:
            conn.disconnect()

    def _own_connection(self, pool: Any = None, local: Any = None, owner: Any = None) -> Any:
        """This thread's connection, checked for staleness after idling.

        By default to this shard's server; a cluster passes the ``pool``
        and thread-``local`` of one node, and the shard whose ``close``
        closes the connection (``owner``)."""
        if local is None:
            local = self._local
        conn = getattr(local, "conn", None)
        pid = _pid
        if conn is None or local.pid != pid:
            # (After a fork the parent's socket is not ours to use.)
            if pool is None:
                pool = self.pool
            conn = pool.connection_class(**pool.connection_kwargs)
            local.conn, local.pid, local.used = conn, pid, 0.0
            owner = self if owner is None else owner
            with owner._lock:
                owner._own.add(conn)
        now = time.monotonic()
        try:
            # A connection that idled may have been closed by a restarted
            # server: find out before sending, when retrying is still safe.
            # Skipped while busy, where it would cost a third of a send.
            if now - local.used > STALE_CHECK_AFTER and conn.is_connected and conn.can_read():
                conn.disconnect()
            if not conn.is_connected:
                conn.connect()
        except NETWORK_ERRORS as exc:
            conn.disconnect()
            raise self._failed(exc, sent=False) from exc
        local.used = now
        return conn

    def _exchange(self, conn: Any, commands: list[tuple], read_timeout: float | None) -> list:
        try:
            conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except NETWORK_ERRORS as exc:
            # The server never got a whole command: nothing was executed.
            conn.disconnect()
            raise self._failed(exc, sent=False) from exc
        replies = []
        read_kwargs = {} if read_timeout is None else {"timeout": read_timeout}
        for _ in commands:
            try:
                replies.append(conn.read_response(**read_kwargs))
            except ResponseError as exc:
                replies.append(exc)
            except NETWORK_ERRORS as exc:
                conn.disconnect()
                raise self._failed(exc, sent=True) from exc
        if self._backoff:
            self._succeeded()
        return replies

    def command(self, *args: Any, read_timeout: float | None = None) -> Any:
        """Run one command; raise its error reply."""
        reply = self.request([args], read_timeout)[0]
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def script(self, script: Script, keys: Sequence, args: Sequence) -> Any:
        """Run ``script`` by SHA1, sending its source if the server lost it
        (a restarted server has an empty script cache)."""
        reply = self.request([("EVALSHA", script.sha, len(keys), *keys, *args)])[0]
        if isinstance(reply, NoScriptError):
            # NOSCRIPT means nothing ran, so sending the source is safe.
            reply = self.request([("EVAL", script.source, len(keys), *keys, *args)])[0]
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def scripts(self, calls: Sequence[tuple[Script, Sequence, Sequence]]) -> list[Any]:
        """Several :meth:`script` calls pipelined in one round trip (per
        node, on a cluster); their replies in order."""
        commands = [
            ("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args in calls
        ]
        replies = self.request(commands)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            sources = [
                ("EVAL", calls[i][0].source, len(calls[i][1]), *calls[i][1], *calls[i][2])
                for i in missing
            ]
            for i, reply in zip(missing, self.request(sources), strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        return replies

    def describe(self) -> ServerStats:
        """Where the server is now, its role, failovers and memory; asked
        anew (a status command's question, not a hot path)."""
        address = failovers = role = memory = None
        reachable = False
        pool = self.pool
        try:
            if isinstance(pool, SentinelConnectionPool):
                host, port = pool.get_master_address()
                address = f"{host}:{port}"
                for sentinel in pool.sentinel_manager.sentinels:
                    try:
                        state = sentinel.sentinel_master(pool.service_name)
                    except NETWORK_ERRORS:
                        continue
                    failovers = int(state.get("config-epoch", 0))
                    break
            else:
                kwargs = pool.connection_kwargs
                address = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
            client = redis.Redis(connection_pool=pool)
            role = client.info("replication").get("role")
            memory = client.info("memory").get("used_memory")
            reachable = True
        except (*NETWORK_ERRORS, ResponseError):
            pass
        return ServerStats(self.ident, address, role, reachable, failovers, memory)

    def describe_servers(self) -> list[ServerStats]:
        """The rows ``channels status`` shows for this shard."""
        return [self.describe()]

    def scan(self, pattern: str) -> list[bytes]:
        """Every key matching the glob ``pattern`` (SCAN, never KEYS)."""
        found: list[bytes] = []
        cursor = 0
        while True:
            cursor, keys = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            found.extend(keys)
            if int(cursor) == 0:
                return list(dict.fromkeys(found))  # SCAN may repeat a key

    # --- reachability ------------------------------------------------------

    def backoff_remaining(self) -> float:
        """Seconds a receiver should wait before trying this server again."""
        return max(0.0, self._down_until - time.monotonic())

    def _failed(self, error: BaseException, sent: bool) -> ShardDown:
        if self._backoff == 0.0:
            logger.warning(
                "lost Redis at %s (%s); receivers retry with back-off until it returns",
                self.ident,
                error,
            )
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_START, self._backoff * 2))
        self._down_until = time.monotonic() + self._backoff
        return ShardDown(self, error, sent)

    def _succeeded(self) -> None:
        if self._backoff:
            logger.warning("Redis at %s is reachable again", self.ident)
            self._backoff = 0.0
            self._down_until = 0.0

    def close(self) -> None:
        """Close every idle connection; the pool reconnects on next use."""
        if self._pool is not None:
            self._pool.disconnect()
        with self._lock:
            own = list(self._own)
        for conn in own:
            conn.disconnect()


def default_connection_kwargs(user: Any) -> dict:
    """Pool arguments: ours, overridden by CONNECTION_KWARGS."""
    if not isinstance(user, dict):
        raise ImproperlyConfiguredBackend(
            f"CONNECTION_KWARGS must be a dict of redis-py connection arguments, not {user!r:.60}"
        )
    check_connection_arguments(user, "CONNECTION_KWARGS")
    return {
        # Plain commands answer within milliseconds; blocking pops pass their
        # own read timeout (block time + margin), so this never cuts them off.
        "socket_timeout": 5.0,
        "socket_connect_timeout": 2.0,
        # No silent retries inside redis-py: a retried send could be
        # delivered twice. The backend retries where that is safe.
        "retry": Retry(NoBackoff(), 0),
        **user,
    }
