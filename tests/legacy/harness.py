"""The legacy (1.x-style) projects of tests/legacy (databinding, multichat,
liveblog) under real ``runwsserver`` + ``runworker`` processes, on the
database or Redis backend."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

from tests.processes import ProjectProcesses, manage

SETTINGS = "tests.legacy.databinding.settings"


@contextlib.contextmanager
def running_project(tmp: Path, backend: str, settings: str, setup: str = ""):
    """A project serving HTTP and WebSockets, after ``setup`` ran in its shell;
    stopped on exit."""
    project = LegacyProject(tmp, backend, settings=settings, accept_all=True)
    try:
        if setup:
            project.shell(setup)
        yield project
    finally:
        project.stop()


class LegacyProject(ProjectProcesses):
    """One interface server and one worker of a project, on a fresh database.

    ``settings`` names the project's settings module; ``accept_all`` has the
    interface server take plain HTTP too (pages, long polls).
    """

    def __init__(
        self, tmp: Path, backend: str, settings: str = SETTINGS, accept_all: bool = False
    ) -> None:
        super().__init__(tmp, settings, backend, prefix="legacy-")
        self.db = tmp / "db.sqlite3"
        try:
            # Both start at once; then each is waited for.
            server, self.port = self.start_server(accept_all=accept_all, wait=False)
            worker = self.start_worker(wait=False)
            self.wait_listening(server, self.port)
            worker.wait_for_output("serving")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the interface server."""
        return f"http://127.0.0.1:{self.port}"

    def socket(self, path: str = "/binding/", headers: dict | None = None):
        """A WebSocket client connected to ``path``."""
        from websockets.sync.client import connect

        return connect(
            f"ws://127.0.0.1:{self.port}{path}", additional_headers=headers, open_timeout=30
        )

    def rows(self) -> list[tuple]:
        """``(id, name, value)`` of every IntegerValue, read from the database file."""
        with sqlite3.connect(self.db, timeout=30) as db:
            return db.execute(
                "SELECT id, name, value FROM values_integervalue ORDER BY id"
            ).fetchall()

    def shell(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell`` (the project's models and settings); its output."""
        done = subprocess.run(
            manage("shell", "-c", code),
            env=self.env,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def orm(self, code: str) -> None:
        """Run ``code`` with ``IntegerValue`` imported, in a process of its own
        (the data-binding project)."""
        self.shell("from tests.legacy.databinding.values.models import IntegerValue\n" + code)
