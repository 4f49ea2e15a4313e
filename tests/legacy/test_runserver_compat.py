"""``manage.py runserver`` is channels' whichever comes first in INSTALLED_APPS,
``django.contrib.staticfiles`` or ``channels``, with CHANNEL_BACKENDS or the
1.x CHANNEL_LAYERS setting (issue 9, item 2): real runserver processes, a real
WebSocket client, a view and a static file over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import requests
from websockets.asyncio.client import connect

from ..interfaces.harness import run
from ..processes import free_port, manage, wait_for_port
from .runtime_project.harness import RuntimeProject

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def project_factory(tmp_path):
    made: list[RuntimeProject] = []

    def make(backend: str = "memory", **env: str) -> RuntimeProject:
        where = tmp_path / str(len(made))
        where.mkdir()
        project = RuntimeProject(where, backend, **env)
        made.append(project)
        return project

    yield make
    for project in made:
        project.stop()


def start_runserver(project: RuntimeProject, *args: str) -> int:
    port = free_port()
    project.start("runserver", f"127.0.0.1:{port}", "--noreload", *args)
    wait_for_port(port)
    return port


def websocket_echo(port: int, text: str) -> str:
    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/any/path/") as ws:
            await ws.send(text)
            return await ws.recv()

    return run(scenario())


def assert_serves_everything(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + "/", timeout=10).text == "hello from a view\n"
    static = requests.get(base + "/static/runtime.txt", timeout=10)
    assert static.status_code == 200, static.text
    assert static.text == "static file of the runtime project\n"
    assert websocket_echo(port, "over the websocket") == "over the websocket"


@pytest.mark.parametrize("order", ["first", "last"])
@pytest.mark.parametrize("setting", ["CHANNEL_BACKENDS", "CHANNEL_LAYERS"])
def test_runserver_is_ours_in_either_order_and_with_either_setting(project_factory, order, setting):
    project = project_factory(
        RUNTIME_STATICFILES=order,
        RUNTIME_DEBUG="1",
        RUNTIME_LAYERS="1" if setting == "CHANNEL_LAYERS" else "0",
    )
    port = start_runserver(project)
    assert_serves_everything(port)
    output = project.processes[-1].output()
    assert "Channels development server" in output, output
    if setting == "CHANNEL_LAYERS":
        assert "using the Channels 1.x CHANNEL_LAYERS setting" in output


def test_runserver_picks_a_subprotocol_of_channels_ws_protocols(project_factory):
    project = project_factory(RUNTIME_LAYERS="1", RUNTIME_WS_PROTOCOLS="chat.v2,chat.v1")

    async def offered(*protocols: str) -> str | None:
        async with connect(
            f"ws://127.0.0.1:{port}/any/path/", subprotocols=list(protocols)
        ) as ws:
            return ws.subprotocol

    port = start_runserver(project)
    assert run(offered("other", "chat.v1")) == "chat.v1"
    assert run(offered("other")) is None


def test_runserver_with_the_autoreloader_and_staticfiles_first(project_factory):
    """A plain ``manage.py runserver`` (reloader on), as the 1.x examples run it.

    The reloader's parent and child share a session of their own, ended as a
    whole at the end.
    """
    project = project_factory(RUNTIME_STATICFILES="first", RUNTIME_DEBUG="1", RUNTIME_LAYERS="1")
    port = free_port()
    log = open(project.tmp / "reloader.log", "wb")
    proc = subprocess.Popen(
        manage("runserver", f"127.0.0.1:{port}"),
        env=project.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=60)
        assert_serves_everything(port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
    assert "Channels development server" in (project.tmp / "reloader.log").read_text()


@pytest.mark.parametrize(
    "backend, args", [("none", ()), ("memory", ("--noasgi",))], ids=["no-backend", "noasgi"]
)
def test_djangos_runserver_still_serves_static_files(project_factory, backend, args):
    """Without a channel backend, or with ``--noasgi`` (1.x option), it is
    Django's server, serving static files as staticfiles' runserver (which
    ours replaced) would."""
    project = project_factory(backend, RUNTIME_STATICFILES="first", RUNTIME_DEBUG="1")
    port = start_runserver(project, *args)
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + "/", timeout=10).text == "hello from a view\n"
    assert requests.get(base + "/static/runtime.txt", timeout=10).status_code == 200
    output = project.processes[-1].output()
    assert "Starting development server" in output, output
    assert "Channels development server" not in output


def test_noworker_leaves_the_messages_to_a_separate_runworker(project_factory):
    """``--noworker`` (1.x option): no worker threads in runserver; a separate
    runworker on the shared database backend answers."""
    project = project_factory("database", RUNTIME_STATICFILES="first", RUNTIME_DEBUG="1")
    port = start_runserver(project, "--noworker")
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(requests.Timeout):
        requests.get(base + "/", timeout=3)
    project.start_worker()
    assert requests.get(base + "/", timeout=30).text == "hello from a view\n"
    # The worker serves static files too: DEBUG and staticfiles (item 7).
    assert requests.get(base + "/static/runtime.txt", timeout=30).status_code == 200
