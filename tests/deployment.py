"""A running deployment of the views test project: runworker processes
behind gunicorn serving ``channels.interfaces.wsgi:application``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from .processes import Process, ProjectProcesses, free_port, wait_for_port


class Deployment(ProjectProcesses):
    """Workers and (optionally) a WSGI interface for one test project, on
    the backend CHANNELS_TEST_BACKEND in ``env`` names (the database by
    default); CHANNELS_TEST_DB=postgres puts the project's tables on the
    suite's PostgreSQL."""

    def __init__(self, tmp: Path, settings_module: str = "views_project.settings", **env: str):
        # On PostgreSQL the project's tables live in a schema of this
        # deployment's own: the shared server's public schema may hold
        # anything (another run's tables, at another migration).
        self.schema = None
        if env.get("CHANNELS_TEST_DB") == "postgres":
            self.schema = f"channels_deploy_{os.getpid()}_{secrets.token_hex(4)}"
            _postgres(f"CREATE SCHEMA {self.schema}")
            env["CHANNELS_TEST_PG_SCHEMA"] = self.schema
        backend = env.pop("CHANNELS_TEST_BACKEND", "database")
        super().__init__(tmp, settings_module, backend, prefix="deploy-", **env)
        self.port: int | None = None

    def start_worker(self, *args: str, **options) -> Process:
        """``manage.py runworker -v 2`` (its consumers' output is asserted
        on), waited for until it serves."""
        return super().start_worker(*args, verbosity=2, **options)

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
        super().stop()
        if self.schema is not None:
            _postgres(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            self.schema = None


def _postgres(statement: str) -> None:
    """Run one statement on the suite's PostgreSQL server (CHANNELS_TEST_POSTGRES)."""
    import psycopg

    with psycopg.connect(os.environ["CHANNELS_TEST_POSTGRES"], autocommit=True) as conn:
        conn.execute(statement)
