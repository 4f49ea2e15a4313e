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

    def send(self, channel: str, content: dict | list[dict]) -> float:
        """Send a message (or each of a list) from a child process of the
        project; return the time.time() just before sending."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.legacy.runtime_project.probe", "send", channel,
             json.dumps(content)],
            env=self.env, timeout=60, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, f"sending to {channel} failed:\n{done.stderr[-3000:]}"
        return float(done.stdout.split()[1])

    def receiver(self, channel: str, seconds: float, count: int = 1) -> subprocess.Popen:
        """A child process taking up to ``count`` messages from ``channel`` within
        ``seconds`` (see probe.py), returned once it is waiting."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.legacy.runtime_project.probe", "receive", channel,
             str(seconds), str(count)],
            env=self.env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout.readline().strip() == "READY"
        return proc

    @staticmethod
    def received(proc: subprocess.Popen, timeout: float = 180) -> list[dict]:
        """The messages a receiver took, each with its arrival time ``at``."""
        out, _ = proc.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        assert lines and lines[-1] == "DONE", out
        return [json.loads(line) for line in lines[:-1]]

    def stop(self) -> None:
        """Stop every process started (TERM, then KILL)."""
        for proc in reversed(self.processes):
            proc.stop()
