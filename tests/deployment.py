"""A running deployment of the views test project: runworker processes
behind gunicorn serving ``channels.interfaces.wsgi:application``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from .processes import Process, free_port, manage, project_env, wait_for_port


class Deployment:
    """Workers and (optionally) a WSGI interface for one test project."""

    def __init__(self, tmp: Path, settings_module: str = "views_project.settings", **env: str):
        self.tmp = tmp
        # On PostgreSQL the project's tables live in a schema of this
        # deployment's own: the shared server's public schema may hold
        # anything (another run's tables, at another migration).
        self.schema = None
        if env.get("CHANNELS_TEST_DB") == "postgres":
            self.schema = f"channels_deploy_{os.getpid()}_{secrets.token_hex(4)}"
            _postgres(f"CREATE SCHEMA {self.schema}")
            env["CHANNELS_TEST_PG_SCHEMA"] = self.schema
        self.env = project_env(settings_module, CHANNELS_TEST_SQLITE=str(tmp / "db.sqlite3"), **env)
        self.workers: list[Process] = []
        self.processes: list[Process] = []
        self.port: int | None = None
        subprocess.run(
            manage("migrate", "--noinput", "-v", "0"), env=self.env, check=True, timeout=120
        )

    def start_worker(self, *args: str) -> Process:
        """Start ``manage.py runworker`` and wait until it serves."""
        proc = Process(
            manage("runworker", "-v", "2", *args),
            self.env,
            self.tmp / f"worker{len(self.processes)}.log",
        )
        self.processes.append(proc)
        self.workers.append(proc)
        proc.wait_for_output("serving")
        return proc

    def start_wsgi(self, timeout: float = 20) -> int:
        """Start gunicorn with the WSGI interface; return its port."""
        self.port = free_port()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--timeout",
            "120",
            "channels.interfaces.wsgi:application",
        ]
        env = dict(self.env, CHANNELS_HTTP_TIMEOUT=str(timeout))
        proc = Process(argv, env, self.tmp / "gunicorn.log")
        self.processes.append(proc)
        wait_for_port(self.port)
        return self.port

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the WSGI interface."""
        return f"http://127.0.0.1:{self.port}{path}"

    def client(self, channel: str, content: dict, timeout: float = 30) -> subprocess.Popen:
        """Start a client process that sends one message and prints the reply."""
        argv = [
            sys.executable,
            "-m",
            "views_project.client",
            channel,
            json.dumps(content),
            str(timeout),
        ]
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def reply_of(client: subprocess.Popen, timeout: float = 60) -> dict | None:
        """The reply a client process printed (None on TIMEOUT)."""
        out, _ = client.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        assert lines and lines[-1] != "SENT", f"client printed {out!r}"
        last = lines[-1]
        return None if last == "TIMEOUT" else json.loads(last)

    def stop(self) -> None:
        """Stop every process started, and drop the deployment's schema."""
        for proc in self.processes:
            proc.stop()
        if self.schema is not None:
            _postgres(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            self.schema = None


def _postgres(statement: str) -> None:
    """Run one statement on the suite's PostgreSQL server (CHANNELS_TEST_POSTGRES)."""
    import psycopg

    with psycopg.connect(os.environ["CHANNELS_TEST_POSTGRES"], autocommit=True) as conn:
        conn.execute(statement)
