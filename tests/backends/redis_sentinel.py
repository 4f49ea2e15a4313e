"""A Sentinel-managed Redis for the tests: a primary, a replica and three
sentinels (``redis-server --sentinel``), all on free loopback ports, started
by the test, without persistence.

:meth:`SentinelGroup.entry` is the ``HOSTS`` entry of the primary; the
test kills the primary with :meth:`SentinelGroup.kill_primary` and waits for
the sentinels to promote the replica with :meth:`SentinelGroup.wait_failover`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from .redis_servers import RedisServer, free_port, redis_server_binary
from .redis_tls import TLSRedisServer, make_tls_material, tls_redis_server_binary

MASTER = "channels-test"
#: How long the sentinels wait before calling the primary down (ms).
DOWN_AFTER_MS = 1000


class SentinelProcess:
    """One ``redis-server --sentinel`` with its own (rewritable) config file."""

    def __init__(
        self, directory: Path, primary_port: int, quorum: int, tls: tuple | None = None
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.config = directory / f"sentinel-{self.port}.conf"
        if tls is None:
            listen = [f"port {self.port}"]
        else:
            ca, cert, key = tls
            listen = [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {cert}",
                f"tls-key-file {key}",
                f"tls-ca-cert-file {ca}",
                "tls-auth-clients no",
                "tls-replication yes",  # sentinels reach the servers over TLS
            ]
        self.config.write_text(
            "\n".join(
                [
                    *listen,
                    "bind 127.0.0.1",
                    "protected-mode no",
                    "daemonize no",
                    f"dir {directory}",
                    f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} {quorum}",
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} 10000",
                    f"sentinel parallel-syncs {MASTER} 1",
                    "",
                ]
            )
        )
        binary = redis_server_binary() if tls is None else tls_redis_server_binary()
        self.process = subprocess.Popen(
            [binary, str(self.config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=directory,
        )

    def client(self) -> redis.Redis:
        if self.tls is None:
            return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2,
            ssl=True,
            ssl_ca_certs=str(self.tls[0]),
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class SentinelGroup:
    """Primary + replica + three sentinels watching them; with ``tls``, all
    of them TLS-only (clients, replication, sentinels), certificates made in
    ``directory``."""

    def __init__(self, directory: Path, tls: bool = False) -> None:
        self.directory = directory
        self.tls = make_tls_material(directory) if tls else None
        if self.tls is None:
            self.primary = RedisServer().start()
            follow = ["--replicaof", "127.0.0.1", str(self.primary.port)]
            self.replica = RedisServer(extra_args=follow).start()
        else:
            self.primary = TLSRedisServer(directory, self.tls).start()
            follow = [
                "--replicaof",
                "127.0.0.1",
                str(self.primary.port),
                "--tls-replication",
                "yes",
            ]
            self.primary.extra_args += ["--tls-replication", "yes"]  # once it is a replica
            self.replica = TLSRedisServer(directory, self.tls, extra_args=follow).start()
        self.sentinels = [
            SentinelProcess(directory, self.primary.port, 2, self.tls) for _ in range(3)
        ]
        self.wait_ready()

    @property
    def addresses(self) -> list[list]:
        return [["127.0.0.1", sentinel.port] for sentinel in self.sentinels]

    def entry(self, **extra) -> dict:
        """The HOSTS entry of this Sentinel-managed primary (over TLS: to
        the sentinels and the primary, trusting the test's CA)."""
        entry = {"SENTINELS": self.addresses, "MASTER_NAME": MASTER}
        if self.tls is not None:
            trust = {"ssl": True, "ssl_ca_certs": str(self.tls[0])}
            entry.update(trust, SENTINEL_KWARGS=trust)
        return {**entry, **extra}

    def server_client(self, port: int) -> redis.Redis:
        """A client of the primary or replica on ``port``."""
        if self.tls is None:
            return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        return redis.Redis(
            host="127.0.0.1", port=port, socket_timeout=2, ssl=True, ssl_ca_certs=str(self.tls[0])
        )

    def master_state(self) -> dict:
        """``SENTINEL MASTER`` as the first sentinel that answers sees it."""
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as client:
                    return client.sentinel_master(MASTER)
            except redis.RedisError:
                continue
        raise AssertionError("no sentinel answers")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the replica is in sync and every sentinel knows the other
        two and the replica (sentinels find each other through the primary)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                synced = self.replica.client().info("replication")["master_link_status"] == "up"
                states = []
                for sentinel in self.sentinels:
                    with sentinel.client() as client:
                        states.append(client.sentinel_master(MASTER))
                if synced and all(
                    s["num-other-sentinels"] == 2 and s["num-slaves"] == 1 for s in states
                ):
                    return
            except (redis.RedisError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the sentinels did not see each other and the replica")
            time.sleep(0.1)

    def primary_port(self) -> int:
        """The port of the primary the sentinels name now."""
        return int(self.master_state()["port"])

    def kill_primary(self) -> RedisServer:
        """SIGKILL the current primary (nothing is saved); returns it."""
        port = self.primary_port()
        victim = self.primary if self.primary.port == port else self.replica
        victim.stop()
        return victim

    def wait_failover(self, old_port: int, timeout: float = 30.0) -> int:
        """Until the sentinels name a new primary that answers as one; its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.primary_port()
                if port != old_port:
                    with self.server_client(port) as client:
                        if client.info("replication")["role"] == "master":
                            return port
            except (redis.RedisError, AssertionError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"no failover within {timeout} s")

    def cleanup(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.primary.cleanup()
        self.replica.cleanup()
