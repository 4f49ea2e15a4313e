"""Prometheus endpoints of workers and interface servers, scraped after
real traffic; counters checked against what was sent."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
import requests
import websockets

from ..processes import free_port, manage
from .harness import OpsDeployment, scrape, value, wait_until


def worker_total(deployment, name: str, **labels: str) -> float:
    """A sample summed over both workers (either may take a message)."""
    return sum(value(scrape(port), name, **labels) for port in deployment.metrics["workers"])


def worker_counts(deployment) -> dict:
    """Every worker sample summed over the workers."""
    total: dict = {}
    for port in deployment.metrics["workers"]:
        for key, v in scrape(port).items():
            total[key] = total.get(key, 0.0) + v
    return total


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    """How much one sample grew."""
    return value(after, name, **labels) - value(before, name, **labels)


def test_counters_follow_the_traffic(deployment):
    server_port = deployment.metrics["server"]
    workers_before = worker_counts(deployment)
    server_before = scrape(server_port)

    # HTTP: 10 Django views, 5 through a routed consumer.
    with requests.Session() as session:
        for _ in range(10):
            assert session.get(deployment.url("/"), timeout=10).text == "hello\n"
        for _ in range(5):
            assert session.get(deployment.url("/meta/"), timeout=10).json()["path"] == "/meta/"

    # WebSocket: one echo socket with 4 frames (the gauge sees it open), one denied.
    async def sockets() -> None:
        async with websockets.connect(deployment.url("/echo/", "ws")) as ws:
            for n in range(4):
                await ws.send(f"m{n}")
                assert await ws.recv() == f"m{n}"
            gauge = scrape(server_port)
            assert value(gauge, "channels_interface_connections", kind="websocket") == 1
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(deployment.url("/deny/", "ws"))
        assert refused.value.response.status_code == 403

    asyncio.run(asyncio.wait_for(sockets(), 60))

    # Every worker outcome, on purpose.
    for action in ("ok", "ok", "fail", "later", "unknown"):
        deployment.send("ops.task", {"action": action})

    expected_worker = {
        ("http.request", "ok"): 15,
        ("websocket.connect", "ok"): 1,
        ("websocket.connect", "denied"): 1,
        ("websocket.receive", "ok"): 4,
        # A denied handshake still ends with websocket.disconnect (the
        # consumer heard websocket.connect, so it hears the end too).
        ("websocket.disconnect", "ok"): 2,
        ("ops.task", "ok"): 3,  # two, plus the requeued one on its second turn
        ("ops.task", "error"): 1,
        ("ops.task", "requeued"): 1,
        ("ops.task", "unrouted"): 1,
    }

    def worker_grew() -> dict | None:
        after = worker_counts(deployment)
        grown = {
            key: delta(after, workers_before, "channels_worker_messages_total",
                       channel=key[0], outcome=key[1])
            for key in expected_worker
        }  # fmt: skip
        return after if grown == expected_worker else None

    workers_after = wait_until(worker_grew, timeout=20, interval=0.2)
    # Consumer time is observed for every message a consumer ran for.
    for channel, count in [("http.request", 15), ("websocket.receive", 4), ("ops.task", 5)]:
        grown = delta(
            workers_after, workers_before, "channels_worker_consumer_seconds_count", channel=channel
        )
        assert grown == count, channel
        assert (
            delta(workers_after, workers_before, "channels_worker_consumer_seconds_sum",
                  channel=channel) > 0
        )  # fmt: skip
    assert (
        delta(workers_after, workers_before, "channels_worker_consumer_seconds_count",
              channel="ops.task") == 5
    )  # fmt: skip

    server_after = wait_until(
        lambda: (
            (s := scrape(server_port))
            and value(s, "channels_interface_connections", kind="websocket") == 0
            and s
        )
    )
    grew = lambda name, **labels: delta(server_after, server_before, name, **labels)  # noqa: E731
    assert grew("channels_interface_http_responses_total", status="200") == 15
    assert grew("channels_interface_websocket_refused_total", status="403") == 1
    sent = {
        channel: grew("channels_interface_messages_sent_total", channel=channel)
        for channel in ["http.request", "websocket.connect", "websocket.receive"]
    }
    assert sent == {"http.request": 15, "websocket.connect": 2, "websocket.receive": 4}
    # websocket.disconnect may still be on its way; both sockets send one.
    wait_until(
        lambda: (
            delta(
                scrape(server_port),
                server_before,
                "channels_interface_messages_sent_total",
                channel="websocket.disconnect",
            )
            == 2
        )
    )
    assert grew("channels_interface_send_seconds_count") >= 21
    # Replies: 15 responses, 1 accept + 4 echoes, 1 close for /deny/.
    assert grew("channels_interface_replies_total", outcome="delivered") == 21
    assert grew("channels_interface_channel_full_total", channel="http.request") == 0
    assert value(server_after, "channels_interface_http_in_flight") == 0
    # The process collectors come along.
    assert value(server_after, "process_cpu_seconds_total") > 0


def test_probes_are_counted_with_their_wait(deployment):
    before = worker_counts(deployment)
    result = deployment.cli_json("latency", "-n", "12", "--interval", "0.01")
    assert result["answered"] == 12
    after = worker_counts(deployment)
    assert delta(after, before, "channels_worker_probes_total") == 12
    assert delta(after, before, "channels_worker_probe_wait_seconds_count") == 12
    waited = delta(after, before, "channels_worker_probe_wait_seconds_sum")
    assert waited > 0  # a probe waits some time in the queue; how long is for bench/


@pytest.mark.usefixtures("ops_redis")
def test_503_and_504_are_counted(tmp_path):
    # No worker, and room for two requests on http.request: two 504s, then a 503.
    d = OpsDeployment(tmp_path, CHANNELS_TEST_HTTP_CAPACITY="2")
    metrics_port = free_port()
    try:
        d.start_server("--http-timeout", "1", "--metrics-port", str(metrics_port))
        statuses = [requests.get(d.url("/"), timeout=10).status_code for _ in range(3)]
        assert statuses == [504, 504, 503]
        samples = scrape(metrics_port)
        assert value(samples, "channels_interface_http_responses_total", status="504") == 2
        assert value(samples, "channels_interface_http_responses_total", status="503") == 1
        assert value(samples, "channels_interface_channel_full_total", channel="http.request") == 1
        assert value(samples, "channels_interface_messages_sent_total", channel="http.request") == 2
        assert value(samples, "channels_interface_http_in_flight") == 0
    finally:
        d.stop()


@pytest.mark.parametrize("command", ["runworker", "runwsserver"])
def test_metrics_without_prometheus_client_is_a_clear_error(tmp_path, command):
    # A package of that name that refuses to import stands in for its absence.
    blocker = tmp_path / "blocked" / "prometheus_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed here')\n")
    d = OpsDeployment(tmp_path / "d", backend="database")
    env = dict(d.env, PYTHONPATH=f"{blocker.parent}:{d.env['PYTHONPATH']}")
    done = subprocess.run(
        manage(command, "--metrics-port", str(free_port())),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "metrics need the prometheus_client package" in done.stderr
    assert "pip install 'channels[metrics]'" in done.stderr
    assert "Traceback" not in done.stderr
