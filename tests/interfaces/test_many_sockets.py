"""1,000 open WebSockets on one interface server process: all served, and
memory per connection measured (recorded in bench/README.md).

Run with ``-s`` to see the figures; they are also written to
``$CHANNELS_BENCH_OUT`` (JSON) when that is set. What the idle sockets cost
in CPU is measured by ``bench/idle_sockets.py`` (a speed figure, not a test).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from websockets.asyncio.client import connect

from ..processes import rss
from .harness import run

pytestmark = pytest.mark.timeout(300)

SOCKETS = 1000


@pytest.mark.parametrize("compression", ["deflate", None])
def test_thousand_open_websockets(fast_stack, compression):
    server, port = fast_stack.start_server(accept_all=False)
    pid = server.popen.pid
    url = f"ws://127.0.0.1:{port}/echo/"
    figures: dict = {"sockets": SOCKETS, "compression": compression or "off"}

    async def scenario():
        opened = []

        async def open_one():
            ws = await connect(url, compression=compression, open_timeout=60)
            opened.append(ws)

        # Warm up (imports, pools, first allocations) before the baseline.
        for _ in range(10):
            await open_one()
        for ws in opened:
            await ws.send("warm")
            assert await ws.recv() == "warm"
        await asyncio.sleep(0.5)
        base = rss(pid)
        while len(opened) < SOCKETS:
            await asyncio.gather(*(open_one() for _ in range(min(100, SOCKETS - len(opened)))))
        assert len(opened) == SOCKETS
        # Every socket works.
        await asyncio.gather(*(ws.send(f"n{i}") for i, ws in enumerate(opened)))
        replies = await asyncio.gather(*(ws.recv() for ws in opened))
        assert replies == [f"n{i}" for i in range(SOCKETS)]
        await asyncio.sleep(1.0)
        full = rss(pid)
        figures["rss_base_mib"] = round(base / 2**20, 1)
        figures["rss_full_mib"] = round(full / 2**20, 1)
        figures["bytes_per_connection"] = (full - base) // (SOCKETS - 10)
        await asyncio.gather(*(ws.close() for ws in opened))

    run(scenario())
    print("\n" + json.dumps(figures))
    if os.environ.get("CHANNELS_BENCH_OUT"):
        with open(os.environ["CHANNELS_BENCH_OUT"], "a") as out:
            out.write(json.dumps(figures) + "\n")
