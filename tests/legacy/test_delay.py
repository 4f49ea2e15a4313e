"""The delay server (issue 9, item 10), as the Channels 1.x docs use it:
``channels.delay`` in INSTALLED_APPS, ``manage.py rundelay`` running, and a
message sent to ``asgi.delay`` with ``channel``, ``content`` and ``delay`` in
milliseconds. Real rundelay processes on the database and Redis backends;
the delayed messages are read by a separate process blocked on the target
channel, which stamps their arrival."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys

import pytest

from ..processes import manage, wait_until
from ..services import require_redis
from .runtime_project.harness import RuntimeProject

pytestmark = pytest.mark.timeout(240)

TARGET = "delayed.result"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def delay_project(request, tmp_path):
    if request.param == "redis":
        require_redis()
    project = RuntimeProject(tmp_path, request.param, RUNTIME_DELAY="1")
    yield project
    project.stop()
    if request.param == "redis":
        project.redis_backend().flush()


def pending_rows(project: RuntimeProject) -> int:
    """Rows of the delay server's table, read straight from the SQLite file."""
    with sqlite3.connect(project.env["CHANNELS_TEST_SQLITE"]) as db:
        return db.execute("SELECT count(*) FROM channels_delay_delayedmessage").fetchone()[0]


def test_a_delayed_message_arrives_after_its_delay_not_before(delay_project):
    delay_project.start("rundelay", "-v", "1", ready="serving asgi.delay")
    receiver = delay_project.receiver(TARGET, seconds=90)
    sent = delay_project.send(
        "asgi.delay", {"channel": TARGET, "content": {"x": 1, "text": "later"}, "delay": 2500}
    )
    [message] = delay_project.received(receiver)
    assert message["channel"] == TARGET
    assert message["content"] == {"x": 1, "text": "later"}
    waited = message["at"] - sent
    # Not early; that it came at all within the receiver's 90 s is the
    # other half (how late is not a test's bound).
    assert waited >= 2.5, f"delivered {2.5 - waited:.3f} s early"
    assert pending_rows(delay_project) == 0


def test_a_restart_of_the_delay_server_keeps_the_message(delay_project):
    first = delay_project.start("rundelay", "-v", "1", ready="serving asgi.delay")
    receiver = delay_project.receiver(TARGET, seconds=120)
    sent = delay_project.send(
        "asgi.delay", {"channel": TARGET, "content": {"survives": True}, "delay": 6000}
    )
    wait_until(lambda: pending_rows(delay_project) == 1, timeout=60)
    # Killed outright, not asked to stop: the row is all there is.
    first.signal(signal.SIGKILL)
    first.wait(timeout=30)
    # Started again as a 1.x deployment wrote the command line.
    delay_project.start(
        "rundelay", "--layer", "default", "--sleep", "0.5", "-v", "1", ready="serving asgi.delay"
    )
    [message] = delay_project.received(receiver)
    assert message["content"] == {"survives": True}
    assert message["at"] - sent >= 6.0
    assert pending_rows(delay_project) == 0


def test_bad_requests_get_a_clear_log_line_and_the_server_goes_on(delay_project):
    server = delay_project.start("rundelay", "-v", "1", ready="serving asgi.delay")
    bad = [
        ({"channel": TARGET, "content": {}}, "missing key(s) delay"),
        ({"channel": "no spaces allowed", "content": {}, "delay": 10}, "'channel': invalid"),
        ({"channel": TARGET, "content": "not a dict", "delay": 10}, "'content' must be a dict"),
        ({"channel": TARGET, "content": {}, "delay": "soon"}, "'delay' must be a number"),
        ({"channel": TARGET, "content": {}, "delay": -5}, "'delay' must be a number"),
    ]
    delay_project.send("asgi.delay", [request for request, _ in bad])
    receiver = delay_project.receiver(TARGET, seconds=60)
    delay_project.send("asgi.delay", {"channel": TARGET, "content": {"ok": 1}, "delay": 0})
    assert [m["content"] for m in delay_project.received(receiver)] == [{"ok": 1}]
    output = server.output()
    for _, line in bad:
        assert f"dropped a message on asgi.delay: {line}" in output, output
    assert server.popen.poll() is None
    assert pending_rows(delay_project) == 0


def test_two_delay_servers_send_each_message_once(delay_project):
    for _ in range(2):
        delay_project.start("rundelay", "-v", "1", ready="serving asgi.delay")
    receiver = delay_project.receiver(TARGET, seconds=20, count=31)
    delay_project.send(
        "asgi.delay", [{"channel": TARGET, "content": {"n": n}, "delay": 300} for n in range(30)]
    )
    # Asked for 31: the 31st never comes, so the receiver runs its full time
    # and would see any duplicate.
    received = sorted(m["content"]["n"] for m in delay_project.received(receiver))
    assert received == list(range(30))


def test_runworker_warns_while_no_delay_server_runs(delay_project):
    worker = delay_project.start_worker()
    worker.wait_for_output("no delay server is running", timeout=90)
    # Once one runs, its heartbeat is listed by `channels status`.
    delay_project.start("rundelay", "-v", "1", ready="serving asgi.delay")
    status = subprocess.run(
        [sys.executable, "-m", "channels.cli", "status", "--json"],
        env=delay_project.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    kinds = [p["kind"] for p in json.loads(status.stdout)["processes"]]
    assert "delay" in kinds and "worker" in kinds, status.stdout + status.stderr


def test_rundelay_without_the_app_says_what_to_do(tmp_path):
    project = RuntimeProject(tmp_path)
    result = subprocess.run(
        manage("rundelay"), env=project.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert 'add "channels.delay" to INSTALLED_APPS' in result.stderr


def test_pending_messages_are_bounded(tmp_path):
    """More requests than --max-pending: the excess is refused with an error
    line, the table holds the bound, and the delay server does not grow."""
    project = RuntimeProject(tmp_path, RUNTIME_DELAY="1")
    try:
        server = project.start(
            "rundelay", "-v", "1", "--max-pending", "200", ready="serving asgi.delay"
        )
        far = {"channel": TARGET, "content": {"payload": "x" * 1000}, "delay": 3_600_000}

        def refused() -> int:
            return server.output().count("already pending")

        project.send("asgi.delay", [far] * 50)
        wait_until(lambda: pending_rows(project) == 50, timeout=60)
        before = server.rss() // 1024
        # In batches below asgi.delay's capacity (100), each taken in before the next.
        for sent in range(100, 501, 50):
            project.send("asgi.delay", [far] * 50)
            wait_until(lambda sent=sent: pending_rows(project) + refused() == sent, timeout=120)
        assert pending_rows(project) == 200
        assert refused() == 300
        grown = server.rss() // 1024 - before
        assert grown < 10 * 1024, f"rundelay grew by {grown} KiB"
    finally:
        project.stop()
