"""Real processes for end-to-end tests: start, wait until listening, stop."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "tests" / "projects"


#: Environment variables that configure the test run, not the test projects.
SUITE_ONLY_VARIABLES = ("CHANNELS_TEST_REDIS", "CHANNELS_TEST_PREFIX", "CHANNELS_TEST_BACKEND")


T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` (VmRSS), in bytes: what the tests
    that attack a server's bounds measure."""
    return psutil.Process(pid).memory_info().rss


def project_env(settings_module: str, **extra: str) -> dict:
    """Environment for a child process running one of the test projects."""
    env = dict(os.environ)
    # CI exports these for the test suite itself; a project gets them only
    # when a test passes them in ``extra``, so a database-backed project never
    # picks up the suite's Redis by accident.
    for name in SUITE_ONLY_VARIABLES:
        env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECTS), str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def manage(*args: str) -> list[str]:
    """argv for ``django-admin`` run by this interpreter."""
    return [sys.executable, "-m", "django", *args]


class Process:
    """A child process whose output is kept in a log file for assertions."""

    def __init__(self, argv: list[str], env: dict, log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    def rss(self) -> int:
        """Resident memory of the process, in bytes."""
        return rss(self.popen.pid)

    def output(self) -> str:
        """Everything the process printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        """Wait until ``text`` appears in the output; fail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.argv} exited {self.popen.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not printed by {self.argv} in {timeout}s:\n{self.output()}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send a signal to the process."""
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        """Wait for exit and return the exit code."""
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        """Terminate (then kill) the process if it still runs."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


def wait_for_port(port: int, timeout: float = 30, host: str = "127.0.0.1") -> None:
    """Wait until something accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {host}:{port} after {timeout}s")


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something true, and return that;
    fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class ProjectProcesses:
    """Real processes of one test project, sharing one environment: the
    base of every harness that runs ``runworker`` and ``runwsserver``
    (tests/interfaces, tests/ops, tests/legacy, tests/deploy, and the
    gunicorn deployment of tests/deployment.py).

    ``backend`` is what the project's settings read from
    CHANNELS_TEST_BACKEND; on ``"redis"`` the project gets the suite's Redis
    (CHANNELS_TEST_REDIS), or ``redis_url`` (another database on it, or
    servers of the test's own: comma-separated shards), which must answer
    (see tests/services.py), under a key prefix of its own starting with
    ``prefix``. Every log goes in
    ``tmp``; the project's SQLite database too, migrated before anything
    starts.
    """

    def __init__(
        self,
        tmp: Path,
        settings_module: str,
        backend: str,
        prefix: str = "t",
        redis_url: str | None = None,
        **env: str,
    ) -> None:
        from .services import REDIS_URL, require_redis

        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.backend = backend
        extra = {"CHANNELS_TEST_SQLITE": str(tmp / "db.sqlite3"), "CHANNELS_TEST_BACKEND": backend}
        if backend == "redis":
            for url in (redis_url or REDIS_URL).split(","):
                require_redis(url)
            extra["CHANNELS_TEST_REDIS"] = redis_url or REDIS_URL
            extra["CHANNELS_TEST_PREFIX"] = prefix + secrets.token_hex(6)
        extra.update(env)
        self.env = project_env(settings_module, **extra)
        self.processes: list[Process] = []
        self.workers: list[Process] = []
        self.servers: list[Process] = []
        self.migrate()

    def migrate(self) -> None:
        """``manage.py migrate`` the project's database."""
        subprocess.run(
            manage("migrate", "--noinput", "-v", "0"), env=self.env, check=True, timeout=120
        )

    def spawn(self, argv: list[str], name: str, **env: str) -> Process:
        """Start ``argv`` in the project's environment (plus ``env``),
        logging to ``tmp/NAME<n>.log``."""
        proc = Process(argv, {**self.env, **env}, self.tmp / f"{name}{len(self.processes)}.log")
        self.processes.append(proc)
        return proc

    def start_worker(self, *args: str, wait: bool = True, verbosity: int = 1) -> Process:
        """``runworker`` (with extra ``args``), waited for until it serves
        unless ``wait`` is false."""
        proc = self.spawn(manage("runworker", "-v", str(verbosity), *args), "worker")
        self.workers.append(proc)
        if wait:
            proc.wait_for_output("serving")
        return proc

    def start_server(
        self, *args: str, accept_all: bool = True, wait: bool = True
    ) -> tuple[Process, int]:
        """``runwsserver`` on a free port (``--accept-all`` unless told not
        to), waited for until it listens unless ``wait`` is false; returns
        (process, port)."""
        port = free_port()
        accept = ["--accept-all"] if accept_all else []
        argv = manage("runwsserver", f"127.0.0.1:{port}", "-v", "1", *args, *accept)
        proc = self.spawn(argv, "server")
        self.servers.append(proc)
        if wait:
            self.wait_listening(proc, port)
        return proc, port

    @staticmethod
    def wait_listening(proc: Process, port: int) -> None:
        """Wait until interface server ``proc`` listens on ``port``."""
        proc.wait_for_output("Listening on")
        wait_for_port(port)

    def logs(self, tail: int = 3000) -> str:
        """The last ``tail`` characters each process printed."""
        return "\n".join(p.output()[-tail:] for p in self.processes)

    def stop(self) -> None:
        """Stop every process, the last started first (TERM, then KILL)."""
        for proc in reversed(self.processes):
            proc.stop()
