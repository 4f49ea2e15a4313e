"""Unrouted ``websocket.receive`` and ``websocket.disconnect`` are consumed
(issue 9, item 4: a production outage).

A push-only app routes ``websocket.connect`` and nothing else. Channels 1.x
drained the other two WebSocket channels with default consumers; without
that, one burst fills ``websocket.receive``, the interface server stops
reading from every socket, pings go unanswered and sockets close with 1013.

Here: 200 real WebSocket clients send frames for 30 s through a real
``runwsserver`` and ``runworker`` on Redis. No socket may close, and no
channel may stay full (the backend's own ``channel_stats``, sampled every
second).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect

from ..services import require_redis
from .runtime_project.harness import RuntimeProject

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]

CLIENTS = 200
SECONDS = 30.0
BURST = 5  # frames each client sends at once on connecting
INTERVAL = 0.5  # then one frame every half second (400 frames/s in all)
#: Longest run of one-second samples a channel may spend at capacity.
MAX_FULL_SAMPLES = 5


@pytest.fixture
def push_app(tmp_path):
    require_redis()
    project = RuntimeProject(tmp_path, "redis", RUNTIME_ROUTING="push_routing")
    yield project
    project.stop()
    project.redis_backend().flush()


async def drive_clients(port: int, backend) -> tuple[list[str], list[list]]:
    """Run the clients; return (unexpected closes, channel samples)."""
    closes: list[str] = []
    samples: list[list] = []
    stop_at = time.monotonic() + SECONDS

    async def client(n: int) -> None:
        # Pings every 5 s, 10 s to answer: a server that stopped reading fails them.
        async with connect(
            f"ws://127.0.0.1:{port}/push/{n}/", ping_interval=5, ping_timeout=10, open_timeout=30
        ) as ws:
            for i in range(BURST):
                await ws.send(f"burst {n} {i}")
            while time.monotonic() < stop_at:
                await asyncio.sleep(INTERVAL)
                try:
                    await ws.send(f"frame {n}")
                except Exception as exc:
                    closes.append(f"client {n}: {type(exc).__name__} {ws.close_code}")
                    return
            if ws.close_code is not None:
                closes.append(f"client {n}: closed by the server with {ws.close_code}")

    async def sample() -> None:
        while time.monotonic() < stop_at + 10:
            stats = await asyncio.to_thread(backend.channel_stats)
            samples.append([(s.name, s.depth, s.capacity) for s in stats])
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    await sampler
    return closes, samples


def longest_full_run(samples: list[list]) -> dict[str, int]:
    """Per channel, the longest run of consecutive samples at capacity."""
    runs: dict[str, int] = {}
    current: dict[str, int] = {}
    for sample in samples:
        full = {name for name, depth, capacity in sample if depth >= capacity}
        for name in full:
            current[name] = current.get(name, 0) + 1
            runs[name] = max(runs.get(name, 0), current[name])
        for name in set(current) - full:
            current[name] = 0
    return runs


def test_push_only_app_keeps_every_socket_open_on_redis(push_app):
    worker = push_app.start_worker()
    assert "websocket.receive" in worker.output().split("serving", 1)[1]
    _, port = push_app.start_server()
    backend = push_app.redis_backend()
    try:
        closes, samples = asyncio.run(asyncio.wait_for(drive_clients(port, backend), 200))
    finally:
        backend.close()
    assert not closes, f"{len(closes)} sockets closed: {closes[:5]}"
    full_runs = longest_full_run(samples)
    assert all(run <= MAX_FULL_SAMPLES for run in full_runs.values()), (full_runs, samples[-3:])
    # Ten seconds after the clients stopped, nothing is left waiting.
    assert not [s for s in samples[-1] if s[0].startswith("websocket.")], samples[-1]
    # The disconnects of 200 sockets were consumed too.
    backend = push_app.redis_backend()
    deadline = time.monotonic() + 30
    while any(s.name == "websocket.disconnect" for s in backend.channel_stats()):
        assert time.monotonic() < deadline, backend.channel_stats()
        time.sleep(0.5)
    backend.close()
