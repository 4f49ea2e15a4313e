"""A running deployment of the ops project, and the ``channels`` CLI run
against it as an operator would run it (a separate process)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from ..processes import Process, free_port, manage, project_env, wait_for_port
from ..services import REDIS_URL as SUITE_REDIS_URL
from ..services import redis_available as _redis_available
from ..services import require_redis as _require_redis

#: Redis for these tests: the suite's server (CHANNELS_TEST_REDIS) with a
#: database number of their own, and a key prefix per deployment on top, so
#: nothing here touches another test's queues.
REDIS_URL = urlunsplit(urlsplit(SUITE_REDIS_URL)._replace(path="/9"))


class OpsDeployment:
    """Interface servers and workers of the ops project on one backend."""

    def __init__(self, tmp: Path, backend: str = "redis", **env: str) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        extra = {"CHANNELS_TEST_SQLITE": str(tmp / "db.sqlite3"), "CHANNELS_TEST_BACKEND": backend}
        if backend == "redis":
            extra["CHANNELS_TEST_REDIS"] = REDIS_URL
            extra["CHANNELS_TEST_PREFIX"] = "ops" + secrets.token_hex(6)
        extra.update(env)
        self.backend = backend
        self.env = project_env("ops_project.settings", **extra)
        self.processes: list[Process] = []
        self.workers: list[Process] = []
        self.servers: list[Process] = []
        self.port: int | None = None
        subprocess.run(
            manage("migrate", "--noinput", "-v", "0"), env=self.env, check=True, timeout=120
        )

    def _start(self, argv: list[str], name: str) -> Process:
        proc = Process(argv, self.env, self.tmp / f"{name}{len(self.processes)}.log")
        self.processes.append(proc)
        return proc

    def start_worker(self, *args: str) -> Process:
        """``runworker``, waited for until it serves."""
        proc = self._start(manage("runworker", "-v", "1", *args), "worker")
        proc.wait_for_output("serving")
        self.workers.append(proc)
        return proc

    def start_server(self, *args: str) -> tuple[Process, int]:
        """``runwsserver --accept-all`` on a free port; returns (process, port)."""
        port = free_port()
        argv = manage("runwsserver", f"127.0.0.1:{port}", "--accept-all", "-v", "1", *args)
        proc = self._start(argv, "server")
        proc.wait_for_output("Listening on")
        wait_for_port(port)
        self.servers.append(proc)
        if self.port is None:
            self.port = port
        return proc, port

    def url(self, path: str, scheme: str = "http") -> str:
        """URL of ``path`` on the first interface server."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def cli(self, *args: str, input: str | None = None, timeout: float = 120):
        """Run ``python -m channels.cli ARGS`` against this deployment."""
        return subprocess.run(
            [sys.executable, "-m", "channels.cli", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cli_json(self, *args: str) -> dict:
        """Run a CLI command with ``--json``; its parsed output (exit 0 required)."""
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def send(self, channel: str, content: dict, count: int = 1) -> None:
        """Send ``count`` copies of ``content`` to ``channel`` from a client process."""
        done = subprocess.run(
            [sys.executable, "-m", "ops_project.tool", "send", channel, json.dumps(content),
             str(count)],
            env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"sent {count}" in done.stdout

    def stop(self) -> None:
        """Stop every process, then drop this deployment's queued messages."""
        for proc in reversed(self.processes):
            proc.stop()
        if self.backend == "redis":
            self.cli("flush", "--yes", timeout=30)


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of a metrics endpoint: {(name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: counters start at nothing)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def redis_available() -> bool:
    """Whether the ops tests' Redis answers."""
    return _redis_available(REDIS_URL)


def require_redis() -> None:
    """Fail in CI (skip elsewhere) unless the ops tests' Redis answers."""
    _require_redis(REDIS_URL)
