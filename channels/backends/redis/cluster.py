"""Redis Cluster (``"CLUSTER": True``): one redis-py ``RedisCluster`` knows
which node serves each hash slot; the backend sends its requests there over
that node's connection pool, following ``MOVED`` (a slot moved: the slot map
is updated and the request sent again), ``ASK`` (a slot being migrated:
``ASKING`` and the request to the importing node) and ``TRYAGAIN`` (a
multi-key request while its keys are split by a migration: again, shortly).
None of these replies means the request ran, so re-sending can never
deliver a message twice. A node that cannot be reached (a killed primary)
is an outage like any other (:class:`~.connection.ShardDown`), after which
the slot map is read again from the cluster, so once a replica has been
promoted the requests go to it.

Every key the backend makes holds a hash tag (:class:`~.keys.KeyLayout`),
so each Lua script touches keys of one slot. The backend places channels by
slot: :meth:`ClusterRouter.slot_shard` is the shard object of one slot,
through which everything for that slot goes; :meth:`ClusterRouter.whole`
is the cluster as one shard, for work that spans nodes (listing keys,
flushing, status), which routes each command by its key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster, key_slot
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError

from ...exceptions import ImproperlyConfiguredBackend
from ..base import ServerStats
from .connection import BACKOFF_MAX, BACKOFF_START, NETWORK_ERRORS, Shard, ShardDown
from .hosts import HostSpec

logger = logging.getLogger("channels.backends.redis")

#: Redirections (MOVED, ASK, TRYAGAIN) one request follows before it is an
#: outage: a slot moves once per reshard step, so a handful is plenty.
MAX_REDIRECTS = 8
#: Least time between two reads of the slot map after failures.
REFRESH_INTERVAL = 0.1
#: Wait before re-sending after TRYAGAIN (keys split mid-migration).
TRYAGAIN_WAIT = 0.02


def _seed(spec: HostSpec) -> tuple[str, int, dict]:
    """Host, port and connection arguments of one seed node."""
    if spec.sentinel:
        raise ImproperlyConfiguredBackend("CLUSTER takes redis:// seed nodes, not Sentinel entries")
    if spec.url is not None:
        pool = redis.ConnectionPool.from_url(spec.url)
        kwargs = dict(pool.connection_kwargs)
        if issubclass(pool.connection_class, redis.SSLConnection):
            kwargs["ssl"] = True
    else:
        kwargs = dict(spec.kwargs)
    if "path" in kwargs:
        raise ImproperlyConfiguredBackend("CLUSTER seed nodes are reached by TCP, not unix://")
    if int(kwargs.pop("db", 0) or 0) != 0:
        raise ImproperlyConfiguredBackend(
            f"Redis Cluster has only database 0: seed {spec.ident} names another"
        )
    return kwargs.pop("host", "localhost"), int(kwargs.pop("port", 6379)), kwargs


class ClusterRouter:
    """Where each slot lives, and sending requests there."""

    def __init__(self, specs: list[HostSpec], common: dict) -> None:
        seeds = [_seed(spec) for spec in specs]
        self.ident = "cluster://" + ",".join(f"{host}:{port}" for host, port, _ in seeds)
        self._startup = [ClusterNode(host, port) for host, port, _ in seeds]
        self._first_seed = seeds[0][:2]
        # Connection arguments of the first seed (password, TLS) for every node.
        self._kwargs = {**common, **seeds[0][2]}
        self._kwargs.pop("retry", None)  # the cluster client's own, not a node's
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        self._slots: dict[int, ClusterShard] = {}
        # Per node, each thread's own connection to it (as Shard keeps one
        # per server): no pool locking on every request.
        self._locals: dict[str, threading.local] = {}
        self._stale = False
        self._refreshed = 0.0
        self.whole = ClusterShard(self, None)
        #: Redirections followed so far, by kind (for operators and tests).
        self.redirects = {"moved": 0, "ask": 0, "tryagain": 0}

    # --- the slot map -------------------------------------------------------

    @property
    def client(self) -> RedisCluster:
        """The redis-py cluster client, made (and the slot map read) on first use."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = RedisCluster(
                            startup_nodes=self._startup,
                            require_full_coverage=False,
                            **self._kwargs,
                        )
                    except (*NETWORK_ERRORS, redis.exceptions.RedisClusterException) as exc:
                        raise ShardDown(self.whole, exc, sent=False) from exc
                client = self._client
        return client

    def slot_shard(self, slot: int) -> ClusterShard:
        """The shard object of ``slot`` (one per slot, made on first use)."""
        shard = self._slots.get(slot)
        if shard is None:
            with self._lock:
                shard = self._slots.setdefault(slot, ClusterShard(self, slot))
        return shard

    def shard_for_key(self, key: str) -> ClusterShard:
        """The shard object of the slot ``key`` hashes to."""
        return self.slot_shard(key_slot(key.encode()))

    def node_name(self, slot: int) -> str:
        """The node serving ``slot`` now (``host:port``), as far as known."""
        try:
            return self._node(slot).name
        except (ShardDown, *NETWORK_ERRORS, redis.exceptions.RedisClusterException):
            return f"slot {slot}"  # unknown: on its own

    def seed_pool(self) -> redis.ConnectionPool:
        """A connection pool to the first seed node (connecting lazily)."""
        kwargs = dict(self._kwargs)
        ssl = kwargs.pop("ssl", False)
        host, port = self._first_seed
        return redis.ConnectionPool(
            host=host,
            port=port,
            connection_class=redis.SSLConnection if ssl else redis.Connection,
            **kwargs,
        )

    def local_for(self, node: str) -> threading.local:
        """The thread-local holder of connections to ``node``."""
        local = self._locals.get(node)
        if local is None:
            with self._lock:
                local = self._locals.setdefault(node, threading.local())
        return local

    def _refresh(self) -> None:
        """Read the slot map again (after a failure), at most every
        REFRESH_INTERVAL seconds; failures are left to the next request."""
        now = time.monotonic()
        if now - self._refreshed < REFRESH_INTERVAL:
            return
        self._refreshed = now
        try:
            self.client.nodes_manager.initialize()
            self._stale = False
        except Exception as exc:  # any failure: the cluster is not answering yet
            logger.debug("reading the Redis Cluster slot map failed: %s", exc)

    def _node(self, slot: int) -> ClusterNode:
        if self._stale:
            self._refresh()
        try:
            node = self.client.nodes_manager.get_node_from_slot(slot)
        except redis.exceptions.SlotNotCoveredError:
            self._stale = True
            raise
        if node.redis_connection is None:
            self._refresh()
            node = self.client.nodes_manager.get_node_from_slot(slot)
        return node

    def _node_at(self, host: str, port: int) -> ClusterNode:
        node = self.client.nodes_manager.get_node(host=host, port=port)
        if node is None or node.redis_connection is None:
            self._stale = True
            self._refresh()
            node = self.client.nodes_manager.get_node(host=host, port=port)
        if node is None or node.redis_connection is None:
            raise redis.exceptions.ConnectionError(f"no connection to {host}:{port} yet")
        return node

    # --- requests -----------------------------------------------------------

    def request(
        self,
        shard: ClusterShard,
        commands: list[tuple],
        read_timeout: float | None,
        pooled: bool = False,
    ) -> list[Any]:
        """``commands`` pipelined to the nodes of their keys, following
        redirections; replies in order (error replies as their exception)."""
        replies: list[Any] = [None] * len(commands)
        pending = list(range(len(commands)))
        asking: dict[int, tuple[str, int]] = {}
        for _ in range(MAX_REDIRECTS):
            by_node: dict[str, tuple[ClusterNode, list[int]]] = {}
            try:
                for index in pending:
                    if index in asking:
                        node = self._node_at(*asking[index])
                    else:
                        node = self._node(self._slot_of(commands[index], shard))
                    by_node.setdefault(node.name, (node, []))[1].append(index)
            except ShardDown as down:  # no cluster client yet
                raise shard._failed(down.error, sent=False) from down
            except (*NETWORK_ERRORS, redis.exceptions.RedisClusterException) as exc:
                self._stale = True
                raise shard._failed(exc, sent=False) from exc
            again: list[int] = []
            wait = False
            for node, indexes in by_node.values():
                batch: list[tuple] = []
                for index in indexes:
                    if index in asking:
                        batch.append(("ASKING",))
                    batch.append(commands[index])
                try:
                    got = shard.exchange_on(node, batch, read_timeout, pooled)
                except ShardDown:
                    self._stale = True
                    raise
                got = iter(got)
                for index in indexes:
                    if index in asking:
                        next(got)  # ASKING's OK
                    reply = next(got)
                    asking.pop(index, None)
                    if isinstance(reply, MovedError):
                        self.redirects["moved"] += 1
                        self.client.nodes_manager.move_slot(reply)
                        again.append(index)
                    elif isinstance(reply, AskError):
                        self.redirects["ask"] += 1
                        asking[index] = (reply.host, reply.port)
                        again.append(index)
                    elif isinstance(reply, TryAgainError):
                        self.redirects["tryagain"] += 1
                        again.append(index)
                        wait = True
                    elif isinstance(reply, ClusterDownError):
                        self._stale = True
                        raise shard._failed(reply, sent=False)
                    else:
                        replies[index] = reply
            if not again:
                return replies
            pending = again
            if wait:
                time.sleep(TRYAGAIN_WAIT)
        raise shard._failed(redis.exceptions.ConnectionError("too many redirections"), sent=False)

    @staticmethod
    def _slot_of(command: tuple, shard: ClusterShard) -> int:
        """The slot a command goes to: its first key's (EVAL/EVALSHA: the
        first of KEYS), else the slot of the shard it was sent through."""
        name = str(command[0]).upper()
        if name in ("EVAL", "EVALSHA"):
            key = command[3] if int(command[2]) > 0 else None
        else:
            key = command[1] if len(command) > 1 and name not in ("SCAN", "INFO") else None
        if key is not None:
            return key_slot(key if isinstance(key, bytes) else str(key).encode())
        if shard.slot is None:
            raise ValueError(f"{name} names no key: send it through a slot's shard")
        return shard.slot

    # --- spanning the cluster -----------------------------------------------

    def primaries(self) -> list[ClusterNode]:
        """The primary nodes, as the slot map has them now."""
        if self._stale:
            self._refresh()
        return self.client.get_primaries()

    def describe(self) -> list[ServerStats]:
        """One row per node (primaries and replicas)."""
        try:
            self._refresh()
            nodes = self.client.get_nodes()
        except ShardDown:
            return [ServerStats(self.ident, None, None, False, None, None)]
        rows = []
        for node in sorted(nodes, key=lambda n: n.name):
            role = memory = None
            reachable = False
            try:
                role = node.redis_connection.info("replication").get("role")
                memory = node.redis_connection.info("memory").get("used_memory")
                reachable = True
            except (*NETWORK_ERRORS, redis.exceptions.ResponseError):
                pass
            rows.append(
                ServerStats(f"{self.ident} {node.name}", node.name, role, reachable, None, memory)
            )
        return rows

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            with self._lock:
                self._client = None


class ClusterShard(Shard):
    """One slot of a cluster (``slot`` given), or the whole cluster (None):
    what the backend sends to, backs off from and names in errors."""

    def __init__(self, router: ClusterRouter, slot: int | None) -> None:
        super().__init__(HostSpec(router.ident if slot is None else f"{router.ident}#{slot}"), {})
        self.router = router
        self.slot = slot

    def request(
        self, commands: Iterable[tuple], read_timeout: float | None = None, pooled: bool = False
    ) -> list[Any]:
        return self.router.request(self, list(commands), read_timeout, pooled)

    def exchange_on(
        self, node: ClusterNode, commands: list[tuple], read_timeout, pooled: bool = False
    ) -> list:
        """``commands`` to ``node``, over this thread's own connection to it
        (``pooled``: one borrowed from its pool, for short-lived threads)."""
        pool = node.redis_connection.connection_pool
        if pooled:
            return self._pooled_exchange(pool, commands, read_timeout)
        router = self.router
        conn = self._own_connection(pool, router.local_for(node.name), router.whole)
        return self._exchange(conn, commands, read_timeout)

    def scan(self, pattern: str) -> list[bytes]:
        found: list[bytes] = []
        try:
            for node in self.router.primaries():
                found.extend(node.redis_connection.scan_iter(match=pattern, count=1000))
        except ShardDown as down:  # no cluster client yet
            raise self._failed(down.error, sent=False) from down
        except (*NETWORK_ERRORS, redis.exceptions.RedisClusterException) as exc:
            self.router._stale = True
            raise self._failed(exc, sent=False) from exc
        return list(dict.fromkeys(found))

    def _failed(self, error: BaseException, sent: bool) -> ShardDown:
        if self.slot is None:
            return super()._failed(error, sent)
        # A slot backs off on its own, quietly; the warning is the
        # cluster's, once per outage.
        whole = self.router.whole
        if whole._backoff == 0.0:
            whole._failed(error, sent)
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_START, self._backoff * 2))
        self._down_until = time.monotonic() + self._backoff
        return ShardDown(self, error, sent)

    def _succeeded(self) -> None:
        if self.slot is None:
            super()._succeeded()
            return
        self._backoff = 0.0
        self._down_until = 0.0
        if self.router.whole._backoff:
            self.router.whole._succeeded()

    def check_tls(self, pool: Any = None) -> None:
        """For TLS seeds, one handshake with the first now, as for a
        standalone server; the cluster client itself connects on first use."""
        if self.slot is None and pool is None:
            super().check_tls(self.router.seed_pool())

    def describe_servers(self) -> list[ServerStats]:
        return self.router.describe()

    def close(self) -> None:
        if self.slot is None:
            super().close()  # every thread's own connections
            self.router.close()
