"""One WebSocket client floods an ``enforce_ordering`` consumer while
another keeps asking and waiting for answers: the scenario of
``test_ordering_flood.py`` and ``bench/ordering_flood.py``.

Real processes (``tests.processes.ProjectProcesses``: ``runwsserver`` and
``runworker`` of ``tests.toolkit.bounds_project``), real WebSocket clients
(the ``websockets`` library), and the ordering records read from the
project's SQLite session table while it runs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from django.core import signing
from websockets.asyncio.client import connect

from tests.processes import ProjectProcesses
from tests.projects.base_settings import SECRET_KEY  # signs the project's session records

SETTINGS = "tests.toolkit.bounds_project.settings"


def start(tmp: Path, backend: str, workers: int = 3, **env: str) -> tuple[ProjectProcesses, int]:
    """The bounds project with ``workers`` runworkers and one runwsserver."""
    stack = ProjectProcesses(tmp, SETTINGS, backend, **env)
    try:
        for _ in range(workers):
            stack.start_worker()
        _, port = stack.start_server()
    except BaseException:
        stack.stop()
        raise
    return stack, port


@dataclass
class RecordSizes:
    """The largest ordering state seen while sampling the session table."""

    held: int = 0  # messages held by one connection
    record_bytes: int = 0  # one connection's ordering record (session_data)
    stored_bytes: int = 0  # every ordering record and held message together
    samples: int = 0


class RecordSampler:
    """Samples the ordering records (keys ``ord…``) and held-message records
    (``orh…``) in the project's session table until stopped."""

    def __init__(self, sqlite_path: Path, interval: float = 0.25) -> None:
        self.path = sqlite_path
        self.interval = interval
        self.sizes = RecordSizes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RecordSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            while not self._stop.wait(self.interval):
                try:
                    rows = db.execute(
                        "SELECT session_key, session_data FROM django_session "
                        "WHERE session_key LIKE 'ord%' OR session_key LIKE 'orh%'"
                    ).fetchall()
                except sqlite3.OperationalError:
                    continue  # locked by a writer: look next time
                self._record(rows)
        finally:
            db.close()

    def _record(self, rows: list[tuple[str, str]]) -> None:
        sizes = self.sizes
        sizes.samples += 1
        sizes.stored_bytes = max(sizes.stored_bytes, sum(len(data) for _, data in rows))
        for key, data in rows:
            if not key.startswith("ord"):
                continue
            sizes.record_bytes = max(sizes.record_bytes, len(data))
            state = _decode_session(data).get("state") or {}
            sizes.held = max(sizes.held, len(state.get("held") or {}))


def _decode_session(data: str) -> dict:
    """A db-engine session record's data (signed JSON)."""
    try:
        return signing.loads(
            data,
            key=SECRET_KEY,
            fallback_keys=[],
            salt="django.contrib.sessions.SessionStore",
            serializer=signing.JSONSerializer,
        )
    except signing.BadSignature:
        return {}


@dataclass
class FloodResult:
    """What the flooder and the other client saw."""

    flood_sent: int = 0
    flood_replies: int = 0
    flood_close_code: int | None = None
    flood_closed_after: float | None = None  # seconds into the flood
    other_replies: list[float] = field(default_factory=list)  # when each reply came
    other_in_order: bool = True
    other_baseline_rate: float = 0.0  # replies/s before the flood


async def _flood(port: int, seconds: float, frame_bytes: int, result: FloodResult) -> None:
    """Send frames of ``frame_bytes`` as fast as the server takes them for
    ``seconds``, reading every reply meanwhile (a fast reader: only its
    sending is hostile). The frames are random text, as the session engine
    compresses what it stores and repeated bytes would hide their size."""
    frames = [base64.b64encode(os.urandom(frame_bytes * 3 // 4)).decode() for _ in range(64)]
    started = time.monotonic()
    async with connect(f"ws://127.0.0.1:{port}/ordered/", max_queue=None) as ws:

        async def read() -> None:
            try:
                async for _ in ws:
                    result.flood_replies += 1
            except websockets.ConnectionClosed:
                pass  # closed by the server (the code is read below)

        reader = asyncio.create_task(read())
        try:
            while time.monotonic() - started < seconds:
                await ws.send(frames[result.flood_sent % len(frames)])
                result.flood_sent += 1
                # send() returns without yielding while the socket takes the
                # data: let the reader run, or replies and the close are
                # never read.
                await asyncio.sleep(0)
        except websockets.ConnectionClosed:
            pass
        if time.monotonic() - started < seconds:
            await asyncio.wait_for(reader, 30)
            result.flood_closed_after = time.monotonic() - started
        reader.cancel()
        result.flood_close_code = ws.close_code if ws.close_code is not None else None


async def _ask_and_wait(port: int, stop: asyncio.Event, result: FloodResult) -> None:
    """One message at a time, each sent once the last was answered."""
    async with connect(f"ws://127.0.0.1:{port}/ordered/") as ws:
        order = 0
        while not stop.is_set():
            await ws.send("ping")
            order += 1
            reply = await asyncio.wait_for(ws.recv(), 120)
            result.other_in_order &= reply == str(order)
            result.other_replies.append(time.monotonic())


async def scenario(port: int, seconds: float, frame_bytes: int = 2048) -> FloodResult:
    """A few seconds of the other client alone (its baseline), then the
    flood beside it for ``seconds``."""
    result = FloodResult()
    stop = asyncio.Event()
    asker = asyncio.create_task(_ask_and_wait(port, stop, result))
    await asyncio.sleep(5)
    result.other_baseline_rate = len(result.other_replies) / 5
    result.other_replies.clear()
    flood_started = time.monotonic()
    await _flood(port, seconds, frame_bytes, result)
    # Keep asking until the flood's window is over, then stop.
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - flood_started)))
    stop.set()
    await asyncio.wait_for(asker, 150)
    result.other_replies = [t - flood_started for t in result.other_replies]
    return result


def run_flood(port: int, sqlite_path: Path, seconds: float) -> tuple[FloodResult, RecordSizes]:
    """Run :func:`scenario` while sampling the ordering records."""
    with RecordSampler(sqlite_path) as sampler:
        result = asyncio.run(asyncio.wait_for(scenario(port, seconds), seconds + 300))
    return result, sampler.sizes
