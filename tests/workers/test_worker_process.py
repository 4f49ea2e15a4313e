"""runworker as a real process: signals, failing consumers, channel selection."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from ..deployment import Deployment
from ..processes import manage, wait_until


@pytest.fixture
def deployment(tmp_path):
    made = Deployment(tmp_path)
    yield made
    made.stop()


def test_sigterm_finishes_the_consumer_in_hand_then_exits_zero(deployment):
    worker = deployment.start_worker("--only-channels", "test.*")
    client = deployment.client("test.slow", {"n": 7, "seconds": 2})
    # The consumer says when it starts, then sleeps 2 s: SIGTERM lands while
    # the worker has the message in hand.
    assert client.stdout.readline().strip() == "SENT"
    worker.wait_for_output("slow consumer started n=7")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    reply = deployment.reply_of(client)
    assert reply is not None and reply["done"] == 7, worker.output()
    assert reply["pid"] == worker.popen.pid


def test_sigint_on_an_idle_worker_exits_zero_promptly(deployment):
    worker = deployment.start_worker()
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=10) == 0


def test_a_failing_consumer_logs_its_traceback_and_the_worker_goes_on(deployment):
    worker = deployment.start_worker("--only-channels", "test.maybe_fail")
    failing = deployment.client("test.maybe_fail", {"n": 1, "boom": True}, timeout=3)
    # The consumer ran and raised (its traceback is logged) before the
    # client is asked whether a reply came.
    worker.wait_for_output("consumer exploded on purpose")
    assert "Traceback" in worker.output()
    assert deployment.reply_of(failing) is None
    assert deployment.reply_of(deployment.client("test.maybe_fail", {"n": 2})) == {"ok": 2}
    assert worker.popen.poll() is None


def queued(deployment: Deployment) -> dict[str, int]:
    """Messages waiting per channel, as ``channels status`` reports them."""
    done = subprocess.run(
        [sys.executable, "-m", "channels.cli", "status", "--json"],
        env=deployment.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {c["name"]: c["depth"] for c in json.loads(done.stdout)["channels"]}


def test_only_and_exclude_channels(deployment):
    worker = deployment.start_worker("--only-channels", "test.*", "--exclude-channels", "test.slow")
    serving = worker.output().split("serving", 1)[1].splitlines()[0]
    assert "test.maybe_fail" in serving
    assert "test.slow" not in serving and "http.request" not in serving
    # The excluded channel's message is sent first. The database backend hands
    # out the oldest message of the channels asked for, so a worker serving
    # test.slow would take it before the test.maybe_fail sent after it.
    slow = deployment.client("test.slow", {"n": 1, "seconds": 0}, timeout=5)
    assert slow.stdout.readline().strip() == "SENT"
    served = deployment.client("test.maybe_fail", {"n": 2})
    assert deployment.reply_of(served) == {"ok": 2}
    # The worker served what came after it; the excluded message still waits.
    assert queued(deployment).get("test.slow") == 1
    assert deployment.reply_of(slow) is None
    # Not that nothing could serve it: a worker for test.slow takes it.
    other = deployment.start_worker("--only-channels", "test.slow")
    other.wait_for_output("slow consumer started n=1")
    wait_until(lambda: queued(deployment).get("test.slow", 0) == 0, timeout=30)


def test_unrouted_channel_selection_is_an_error_at_start_up(deployment):
    result = subprocess.run(
        manage("runworker", "--only-channels", "nothing.here"),
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no routed channel left to serve" in result.stderr
