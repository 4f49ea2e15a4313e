"""runworker as a real process: signals, failing consumers, channel selection."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from ..deployment import Deployment
from ..processes import manage


@pytest.fixture
def deployment(tmp_path):
    made = Deployment(tmp_path)
    yield made
    made.stop()


def test_sigterm_finishes_the_consumer_in_hand_then_exits_zero(deployment):
    worker = deployment.start_worker("--only-channels", "test.*")
    client = deployment.client("test.slow", {"n": 7, "seconds": 2})
    # The consumer sleeps 2 s: 1 s in, the worker has the message in hand.
    assert client.stdout.readline().strip() == "SENT"
    time.sleep(1.0)
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
    assert (
        deployment.reply_of(deployment.client("test.maybe_fail", {"n": 1, "boom": True}, timeout=3))
        is None
    )
    assert deployment.reply_of(deployment.client("test.maybe_fail", {"n": 2})) == {"ok": 2}
    output = worker.output()
    assert "Traceback" in output and "consumer exploded on purpose" in output
    assert worker.popen.poll() is None


def test_only_and_exclude_channels(deployment):
    worker = deployment.start_worker("--only-channels", "test.*", "--exclude-channels", "test.slow")
    assert "serving test.maybe_fail" in worker.output()
    assert "http.request" not in worker.output().split("serving", 1)[1].splitlines()[0]


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
