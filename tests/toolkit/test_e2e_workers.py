"""Every decorator and class of the toolkit through real ``runworker``
processes, on the database and Redis backends, with a client process playing
the interface server (``e2e_project/client.py`` sends the messages
``runwsserver`` would, and reads the replies); ``enforce_ordering`` also
through a real ``runwsserver`` and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from tests.deployment import Deployment
from tests.processes import ROOT, ProjectProcesses

SETTINGS = "tests.toolkit.e2e_project.settings"


def start(tmp, backend: str, workers: int = 3, **env: str) -> Deployment:
    """``workers`` runworkers of the e2e project on ``backend``: "database"
    or "redis" (which must answer, tests/services.py), keys under a prefix
    of their own."""
    deployment = Deployment(
        tmp, SETTINGS, CHANNELS_TEST_BACKEND=backend, CHANNELS_TEST_TMP=str(tmp), **env
    )
    try:
        for _ in range(workers):
            deployment.start_worker()
    except BaseException:
        deployment.stop()
        raise
    return deployment


def run_client(deployment: Deployment, scenario: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.toolkit.e2e_project.client", scenario, *args],
        env=deployment.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    logs = "\n".join(w.output()[-3000:] for w in deployment.workers)
    assert done.returncode == 0, f"{done.stderr}\n--- workers ---\n{logs}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["database", "redis"])
def deployment(request, tmp_path_factory):
    made = start(tmp_path_factory.mktemp(request.param), request.param)
    yield made
    made.stop()


def test_enforce_ordering_sixty_messages_over_three_workers(deployment):
    result = run_client(deployment, "ordering", "60")
    assert result["accepted"] == {"accept": True}
    replies = result["replies"]
    assert None not in replies, replies
    # The replies reached the socket in order, and the session saw each once.
    assert [r["order"] for r in replies] == list(range(1, 61))
    assert [r["count"] for r in replies] == list(range(1, 61))
    # Really raced: more than one worker ran them.
    assert len({r["pid"] for r in replies}) > 1
    assert result["bye"]["bye"] == 60
    for worker in deployment.workers:
        assert "Traceback" not in worker.output()
        assert "never came" not in worker.output()


def test_enforce_ordering_on_an_async_consumer(deployment):
    assert run_client(deployment, "async_ordering")["orders"] == list(range(1, 21))


def test_sessions_auth_and_origin_checks(deployment):
    result = run_client(deployment, "sessions_and_auth")
    assert result["visits"] == [1, 2, 3]
    assert result["anonymous"] == {"close": 4001}
    assert result["foreign"] == {"close": True}
    assert result["alice"] == {"accept": True}
    assert result["alice_user"] == "alice"
    assert result["async_user"] == "alice"


def test_class_based_consumers(deployment):
    result = run_client(deployment, "classes")
    assert result["accepts"] == [{"accept": True}] * 3
    assert result["stranger"] == {"close": 4001}
    assert result["blue"] == [{"user": "alice", "say": "hi blue"}] * 2
    assert result["red_got"] is None
    assert result["after_leave"] == [{"user": "alice", "say": "alone"}, None]
    assert result["mux_connect"] == [
        {"accept": True},
        {"stream": "upper", "payload": {"hello": "upper"}},
    ]
    assert result["mux"] == [
        {"stream": "echo", "payload": {"echo": {"a": 1}}},
        {"stream": "upper", "payload": {"upper": "SHOUT"}},
    ]
    assert result["raw_connect"] == [{"accept": True}] * 2
    assert result["raw"] == ["0201", "hello"]
    assert result["raw_left"] == "someone left"


def test_http_consumers_stream_and_long_poll(deployment):
    result = run_client(deployment, "http")
    assert result["headers"]["status"] == 200
    assert result["headers"]["more_content"] is True
    assert ["content-type", "text/event-stream"] in result["headers"]["headers"]
    assert result["event"] == {
        "content": "id: 1\nevent: clock\ndata: tick\n\n",
        "more_content": True,
    }
    assert result["before"] is None
    assert result["poll"]["status"] == 200 and result["poll"]["content"] == '{"news": 1}'


@pytest.mark.parametrize("engine", ["cache", "cached_db", "file"])
def test_ordering_and_sessions_on_other_session_engines(engine, tmp_path):
    # On Redis, the backend of a real deployment: a missing Redis fails (or
    # skips, on a plain local run), never quietly becomes the database.
    made = start(
        tmp_path,
        "redis",
        CHANNELS_TEST_SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}",
    )
    try:
        result = run_client(made, "ordering", "30")
        assert [r["order"] for r in result["replies"]] == list(range(1, 31))
        assert [r["count"] for r in result["replies"]] == list(range(1, 31))
        assert run_client(made, "sessions_and_auth")["alice_user"] == "alice"
    finally:
        made.stop()


async def _ordered_over_a_real_socket(port: int, count: int) -> list[dict]:
    async with connect(f"ws://127.0.0.1:{port}/order/", open_timeout=30) as ws:
        for n in range(count):
            await ws.send(str(n))
        replies = [json.loads(await asyncio.wait_for(ws.recv(), 60)) for _ in range(count)]
    return replies


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_enforce_ordering_through_a_real_interface_server(backend, tmp_path):
    """The ordering scenario with no stand-in: a WebSocket client sends 60
    frames at once to ``runwsserver``, which numbers them; three
    ``runworker`` processes race over them."""
    project = ProjectProcesses(
        tmp_path, SETTINGS, backend, prefix="toolkit-", CHANNELS_TEST_TMP=str(tmp_path)
    )
    try:
        for _ in range(3):
            project.start_worker()
        _, port = project.start_server(accept_all=False)
        replies = asyncio.run(asyncio.wait_for(_ordered_over_a_real_socket(port, 60), 180))
        assert [r["order"] for r in replies] == list(range(1, 61)), project.logs()
        assert [r["count"] for r in replies] == list(range(1, 61))
        assert len({r["pid"] for r in replies}) > 1
        for worker in project.workers:
            assert "Traceback" not in worker.output()
            assert "never came" not in worker.output()
    finally:
        project.stop()
