"""Real processes of the runtime project, for the tests/legacy runtime tests."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

from ...processes import Process, free_port, manage, project_env, wait_for_port
from ...services import REDIS_URL

SETTINGS = "tests.legacy.runtime_project.settings"


class RuntimeProject:
    """One configuration of the runtime project and the processes started on it.

    ``env`` sets the ``RUNTIME_*`` variables (see the package docstring);
    a Redis backend gets a key prefix of its own.
    """

    def __init__(self, tmp: Path, backend: str = "database", **env: str) -> None:
        self.tmp = tmp
        self.backend = backend
        extra = {"RUNTIME_SQLITE": str(tmp / "db.sqlite3"), "RUNTIME_BACKEND": backend}
        if backend == "redis":
            extra["RUNTIME_REDIS"] = REDIS_URL
            extra["RUNTIME_PREFIX"] = f"rt{secrets.token_hex(6)}:"
        extra.update(env)
        self.env = project_env(SETTINGS, **extra)
        self.processes: list[Process] = []
        subprocess.run(
            manage("migrate", "--noinput", "-v", "0"), env=self.env, check=True, timeout=120
        )

    def start(self, *args: str, ready: str | None = None, timeout: float = 60) -> Process:
        """``manage.py *args``; waits for ``ready`` in its output if given."""
        proc = Process(manage(*args), self.env, self.tmp / f"{args[0]}{len(self.processes)}.log")
        self.processes.append(proc)
        if ready is not None:
            proc.wait_for_output(ready, timeout=timeout)
        return proc

    def start_worker(self, *args: str) -> Process:
        """``runworker -v 1 *args``, waited for until it serves."""
        return self.start("runworker", "-v", "1", *args, ready="serving")

    def start_server(self) -> int:
        """``runwsserver --accept-all`` on a free port; returns the port."""
        port = free_port()
        self.start("runwsserver", f"127.0.0.1:{port}", "--accept-all", "-v", "1", ready="Listening")
        wait_for_port(port)
        return port

    def redis_backend(self):
        """A backend object on this project's Redis keys, for the test process."""
        from channels.backends.redis import RedisChannelBackend

        return RedisChannelBackend(
            "default", HOSTS=[self.env["RUNTIME_REDIS"]], PREFIX=self.env["RUNTIME_PREFIX"]
        )

    def send(self, channel: str, content: dict) -> None:
        """Send one message from a child process of the project."""
        subprocess.run(
            [sys.executable, "-m", "tests.legacy.runtime_project.probe", "send", channel,
             json.dumps(content)],
            env=self.env, check=True, timeout=60, capture_output=True,
        )  # fmt: skip

    def receiver(self, channel: str, timeout: float) -> subprocess.Popen:
        """A child process waiting for one message on ``channel`` (see probe.py),
        returned once it is waiting."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.legacy.runtime_project.probe", "receive", channel,
             str(timeout)],
            env=self.env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout.readline().strip() == "READY"
        return proc

    @staticmethod
    def received(proc: subprocess.Popen, timeout: float = 120) -> dict | None:
        """What a receiver printed: the message and its arrival time, or None."""
        line = proc.stdout.readline().strip()
        proc.wait(timeout=timeout)
        return None if line == "TIMEOUT" else json.loads(line)

    def stop(self) -> None:
        """Stop every process started (TERM, then KILL)."""
        for proc in reversed(self.processes):
            proc.stop()
