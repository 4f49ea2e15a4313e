"""Back-pressure and timeouts: 503 on a full channel, 504 without a reply,
WebSocket frames held (not dropped) while workers are away, 1013 after the
bounded wait, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import signal
import threading

import pytest
import requests
import websockets
from websockets.asyncio.client import connect

from .conftest import make_stack
from .harness import run, wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def small_stack(tmp_path):
    """Capacity-3 channels, on Redis (required); no worker yet."""
    s = make_stack(tmp_path, "redis", CHANNELS_TEST_CAPACITY="3")
    yield s
    s.stop()


def test_full_channel_is_503_and_no_reply_is_504(small_stack):
    _, port = small_stack.start_server("--http-timeout", "2")
    url = f"http://127.0.0.1:{port}/"
    results: list[requests.Response] = []
    # No worker: the first 3 requests fill http.request, and time out.
    threads = [
        threading.Thread(target=lambda: results.append(requests.get(url, timeout=20)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    wait_until(lambda: _queued(port, 3))
    r = requests.get(url, timeout=10)
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    for t in threads:
        t.join(30)
    assert sorted(x.status_code for x in results) == [504, 504, 504]


def _queued(port: int, n: int) -> bool:
    # The health endpoint counts open connections: n clients + this probe.
    health = requests.get(f"http://127.0.0.1:{port}/__channels__/health", timeout=5).json()
    return health["connections"] >= n + 1


def test_frames_wait_out_a_worker_restart_then_1013(small_stack):
    worker = small_stack.start_worker()
    _, port = small_stack.start_server("--full-wait", "3")

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/echo/") as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            worker.signal(signal.SIGTERM)
            assert worker.wait(30) == 0
            # 10 frames into a capacity-3 channel: 3 queue, the rest wait in
            # the server (socket paused), none is dropped.
            for i in range(10):
                await ws.send(f"m{i}")
            small_stack.start_worker()
            assert [await ws.recv() for _ in range(10)] == [f"m{i}" for i in range(10)]
            # Workers gone for longer than --full-wait: close 1013.
            small_stack.processes[-1].signal(signal.SIGTERM)
            assert small_stack.processes[-1].wait(30) == 0
            for i in range(6):
                await ws.send(f"n{i}")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for _ in range(10):
                    await ws.recv()
            assert closed.value.rcvd.code == 1013

    run(scenario())


def test_sigterm_closes_websockets_with_1001_and_finishes_http(fast_stack):
    server, port = fast_stack.start_server("--grace-period", "10")
    _, watch_port = fast_stack.start_server()
    slow: list[requests.Response] = []
    t = threading.Thread(
        target=lambda: slow.append(requests.get(f"http://127.0.0.1:{port}/slow/?s=2", timeout=20))
    )

    async def scenario():
        async with connect(f"ws://127.0.0.1:{watch_port}/watch/") as watcher:
            async with connect(f"ws://127.0.0.1:{port}/echo/") as ws:
                await ws.send("hi")
                assert await ws.recv() == "hi"
                t.start()
                wait_until(lambda: _queued(port, 2))
                server.signal(signal.SIGTERM)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1001
            assert await watcher.recv() == "disconnect /echo/ 1001"

    run(scenario())
    t.join(30)
    assert slow[0].status_code == 200 and slow[0].text == "late\n"
    assert server.wait(30) == 0
