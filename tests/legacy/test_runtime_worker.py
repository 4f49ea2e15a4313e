"""``runworker`` as Channels 1.x ran it: static files in DEBUG (issue 9, item 7),
``--threads N``, the 1.x signals and the 1.x spelling of ``--only-channels``
(item 11). Real runworker and runwsserver processes."""

from __future__ import annotations

import secrets

import pytest
import requests

from .runtime_project.harness import RuntimeProject

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def project_factory(tmp_path):
    made: list[RuntimeProject] = []

    def make(**env: str) -> RuntimeProject:
        where = tmp_path / str(len(made))
        where.mkdir()
        project = RuntimeProject(where, "database", **env)
        made.append(project)
        return project

    yield make
    for project in made:
        project.stop()


@pytest.mark.parametrize(
    "debug, args, served",
    [("1", (), True), ("1", ("--nostatic",), False), ("0", (), False)],
    ids=["debug", "debug-nostatic", "no-debug"],
)
def test_runworker_serves_static_files_in_debug(project_factory, debug, args, served):
    project = project_factory(RUNTIME_STATICFILES="first", RUNTIME_DEBUG=debug)
    worker = project.start_worker(*args)
    _, port = project.start_server()
    base = f"http://127.0.0.1:{port}"
    static = requests.get(base + "/static/runtime.txt", timeout=30)
    if served:
        assert static.status_code == 200
        assert static.text == "static file of the runtime project\n"
        assert static.headers["content-type"].startswith("text/plain")
        assert "(and static files)" in worker.output()
    else:
        assert static.status_code == 404
    # Everything else still reaches the views.
    assert requests.get(base + "/", timeout=30).text == "hello from a view\n"


def test_threads_and_the_1x_signals(project_factory):
    project = project_factory()
    worker = project.start_worker("--threads", "3")
    assert "in 3 threads" in worker.output()
    reply = f"runtime.reply.{secrets.token_hex(8)}"
    replies = []
    for _ in range(2):
        receiver = project.receiver(reply, seconds=60)
        project.send("runtime.signals", {"reply_channel": reply})
        [message] = project.received(receiver)
        replies.append(message["content"])
    assert replies[0]["pid"] == replies[1]["pid"] == worker.popen.pid
    seen = replies[1]["seen"]
    # Once per process, then once per worker thread, as 1.x's WorkerGroup did.
    assert seen[0] == ["worker_process_ready", "WorkerGroup", []]
    assert seen[1:4] == [["worker_ready", "Worker", []]] * 3
    # Around each consumer: started (with environ={}), then finished.
    assert seen[4:] == [
        ["consumer_started", "Worker", ["environ"], {}],
        ["consumer_finished", "Worker", []],
        ["consumer_started", "Worker", ["environ"], {}],
    ]


def test_only_channels_repeated_as_1x_wrote_it(project_factory):
    project = project_factory()
    worker = project.start_worker(
        "--only-channels", "websocket.connect", "--only-channels", "runtime.*"
    )
    serving = worker.output().split("serving", 1)[1].splitlines()[0]
    assert serving.strip() == "runtime.signals, websocket.connect"


def test_a_dying_worker_thread_stops_the_group():
    """If one thread of ``--threads N`` dies of a bug, the others stop and the
    process exits non-zero (so a supervisor restarts it) instead of running
    on with fewer threads."""
    from channels.backends.memory import InMemoryChannelBackend
    from channels.routing import Router
    from channels.workers.worker import WorkerGroup, WorkerThreadFailed

    group = WorkerGroup(InMemoryChannelBackend(), Router([]), threads=3)

    def broken_run():
        raise RuntimeError("a bug in the loop")

    group.workers[1].run = broken_run
    with pytest.raises(WorkerThreadFailed, match="channels-worker-1"):
        group.run()
    assert all(worker.stopping for worker in group.workers)
