"""What 1,000 idle WebSockets cost one interface server in CPU.

    python bench/idle_sockets.py [--sockets 1000] [--seconds 5] [--compression deflate]

Starts ``tests/projects/echo_project`` on the Redis backend named by
CHANNELS_TEST_REDIS (one ``runwsserver``, one ``runworker``), opens
``--sockets`` WebSockets, echoes one message on each, then measures the
server process's CPU over ``--seconds`` while every socket is idle. Prints
one JSON line. Nothing is asserted: ``tests/interfaces/test_many_sockets.py``
checks that the sockets are all served (and prints their memory); a CPU
figure depends on the machine and belongs here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def measure(port: int, pid: int, sockets: int, seconds: float, compression) -> dict:
    import psutil
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/echo/"
    opened = []
    while len(opened) < sockets:
        batch = min(100, sockets - len(opened))
        opened += await asyncio.gather(
            *(connect(url, compression=compression, open_timeout=60) for _ in range(batch))
        )
    await asyncio.gather(*(ws.send(f"n{i}") for i, ws in enumerate(opened)))
    replies = await asyncio.gather(*(ws.recv() for ws in opened))
    served = sum(reply == f"n{i}" for i, reply in enumerate(replies))
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    await asyncio.sleep(seconds)
    idle = proc.cpu_percent(None)
    await asyncio.gather(*(ws.close() for ws in opened))
    return {
        "sockets": sockets,
        "served": served,
        "compression": compression or "off",
        "idle_seconds": seconds,
        "idle_cpu_percent": idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--compression", choices=["deflate"], default=None)
    args = parser.parse_args()

    from tests.interfaces.harness import Stack

    stack = Stack(Path(tempfile.mkdtemp(prefix="idle-sockets-")), "redis")
    try:
        stack.start_worker()
        server, port = stack.start_server(accept_all=False)
        figures = asyncio.run(
            measure(port, server.popen.pid, args.sockets, args.seconds, args.compression)
        )
    finally:
        stack.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
