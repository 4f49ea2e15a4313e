"""``manage.py runserver``: interface server + worker threads in one process,
static files in DEBUG, and Django's own runserver without CHANNEL_BACKENDS."""

from __future__ import annotations

import subprocess

import pytest
import requests
from websockets.asyncio.client import connect

from ..processes import Process, free_port, manage, project_env, wait_for_port
from .harness import run

pytestmark = pytest.mark.timeout(120)


def start_runserver(tmp_path, *args: str, **env: str) -> tuple[Process, int]:
    port = free_port()
    environ = project_env(
        "echo_project.settings", CHANNELS_TEST_SQLITE=str(tmp_path / "db.sqlite3"), **env
    )
    subprocess.run(manage("migrate", "--noinput", "-v", "0"), env=environ, check=True, timeout=120)
    proc = Process(
        manage("runserver", f"127.0.0.1:{port}", "--noreload", *args),
        environ,
        tmp_path / "runserver.log",
    )
    wait_for_port(port)
    return proc, port


@pytest.mark.parametrize("backend", ["memory", "database"])
def test_runserver_serves_http_websocket_and_static(tmp_path, backend):
    proc, port = start_runserver(
        tmp_path, "--workers", "2", CHANNELS_TEST_BACKEND=backend, CHANNELS_TEST_DEBUG="1"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert requests.get(base + "/", timeout=10).text == "hello\n"
        assert requests.post(base + "/echo/", data=b"xyz", timeout=10).content == b"xyz"
        static = requests.get(base + "/static/hello.txt", timeout=10)
        assert static.status_code == 200 and static.text == "static hello\n"

        async def scenario():
            async with connect(f"ws://127.0.0.1:{port}/echo/") as ws:
                await ws.send("dev")
                assert await ws.recv() == "dev"

        run(scenario())
        assert "Channels development server" in proc.output()
    finally:
        proc.stop()


def test_runserver_without_backends_is_djangos(tmp_path):
    proc, port = start_runserver(tmp_path, CHANNELS_TEST_NO_BACKEND="1")
    try:
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello\n"
        assert "Channels development server" not in proc.output()
    finally:
        proc.stop()
