"""Real processes of the runtime project, for the tests/legacy runtime tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ...processes import Process, ProjectProcesses, manage

SETTINGS = "tests.legacy.runtime_project.settings"


class RuntimeProject(ProjectProcesses):
    """One configuration of the runtime project and the processes started on it.

    ``env`` sets the ``RUNTIME_*`` variables (see the package docstring);
    a Redis backend gets the suite's Redis under a key prefix of its own.
    """

    def __init__(self, tmp: Path, backend: str = "database", **env: str) -> None:
        super().__init__(tmp, SETTINGS, backend, prefix="rt", **env)

    def start(self, *args: str, ready: str | None = None, timeout: float = 60) -> Process:
        """``manage.py *args``; waits for ``ready`` in its output if given."""
        proc = self.spawn(manage(*args), args[0])
        if ready is not None:
            proc.wait_for_output(ready, timeout=timeout)
        return proc

    def redis_backend(self):
        """A backend object on this project's Redis keys, for the test process."""
        from channels.backends.redis import RedisChannelBackend

        return RedisChannelBackend(
            "default",
            HOSTS=[self.env["CHANNELS_TEST_REDIS"]],
            PREFIX=self.env["CHANNELS_TEST_PREFIX"],
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
