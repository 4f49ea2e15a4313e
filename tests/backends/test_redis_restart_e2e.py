"""A real ``runwsserver`` and ``runworker`` on the Redis backend across a
restart of their Redis server (our own, without persistence): the processes
stay up, every WebSocket either stays open or is closed cleanly with a close
frame, and service resumes, for the sockets that stayed and for new ones."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from websockets.asyncio.client import connect

from ..interfaces.harness import Stack, run
from .redis_servers import own_redis  # noqa: F401 (fixture)

pytestmark = pytest.mark.redis

SOCKETS = 8


async def echo_until_answered(ws, text: str, within: float) -> bool:
    """Send ``text`` (again every second: a message sent while Redis was
    down may be lost, at most once) until it comes back; False if the
    socket was closed cleanly instead."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await ws.send(text)
            while True:
                reply = await asyncio.wait_for(ws.recv(), 1.0)
                if reply == text:
                    return True
        except TimeoutError:
            continue
        except websockets.ConnectionClosedOK:
            return False
        except websockets.ConnectionClosedError as exc:
            # A close frame with an error code is a clean close too; no
            # close frame at all (rcvd is None) is not.
            assert exc.rcvd is not None, f"socket dropped without a close frame: {exc}"
            return False
    raise AssertionError(f"{text!r} not answered within {within} s")


def test_runwsserver_and_runworker_across_a_redis_restart(own_redis, tmp_path):  # noqa: F811
    stack = Stack(tmp_path, "redis", CHANNELS_TEST_REDIS=own_redis.url)
    try:
        worker = stack.start_worker()
        server, port = stack.start_server()
        url = f"ws://127.0.0.1:{port}/echo/"

        async def scenario() -> tuple[int, int]:
            sockets = [await connect(url, open_timeout=10) for _ in range(SOCKETS)]
            for n, ws in enumerate(sockets):
                assert await echo_until_answered(ws, f"before {n}", 10)
            await asyncio.to_thread(own_redis.restart, 2.0)
            kept = closed = 0
            for n, ws in enumerate(sockets):
                if await echo_until_answered(ws, f"after {n}", 20):
                    kept += 1
                else:
                    closed += 1
            # New sockets are served as before.
            async with connect(url, open_timeout=10) as fresh:
                assert await echo_until_answered(fresh, "new", 20)
            for ws in sockets:
                await ws.close()
            return kept, closed

        kept, closed = run(scenario())
        assert kept + closed == SOCKETS
        assert server.popen.poll() is None, server.output()
        assert worker.popen.poll() is None, worker.output()
        # Reported, not asserted: which of the two the server chose.
        print(f"after the restart: {kept} sockets kept, {closed} closed cleanly")
    finally:
        stack.stop()
