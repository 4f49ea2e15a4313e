"""A running deployment of the ops project, and the ``channels`` CLI run
against it as an operator would run it (a separate process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from ..processes import ProjectProcesses, wait_until  # noqa: F401  (re-exported)
from ..services import REDIS_URL as SUITE_REDIS_URL
from ..services import require_redis as _require_redis

#: Redis for these tests: the suite's server (CHANNELS_TEST_REDIS) with a
#: database number of their own, and a key prefix per deployment on top, so
#: nothing here touches another test's queues.
REDIS_URL = urlunsplit(urlsplit(SUITE_REDIS_URL)._replace(path="/9"))


class OpsDeployment(ProjectProcesses):
    """Interface servers and workers of the ops project on one backend; on
    Redis, under a key prefix of its own."""

    def __init__(self, tmp: Path, backend: str = "redis", **env: str) -> None:
        super().__init__(
            tmp, "ops_project.settings", backend, prefix="ops", redis_url=REDIS_URL, **env
        )
        self.port: int | None = None

    def start_server(self, *args: str, **options) -> tuple:
        """``runwsserver --accept-all`` on a free port; returns (process, port).
        The first one started is the one :meth:`url` names."""
        proc, port = super().start_server(*args, **options)
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
        super().stop()
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


def require_redis() -> None:
    """Fail (in CI, or when CHANNELS_TEST_REDIS is set) or skip unless the
    ops tests' Redis answers."""
    _require_redis(REDIS_URL)
