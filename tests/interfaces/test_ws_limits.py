"""What WebSocket clients can make the interface server hold is bounded, per
socket and per process (docs/security.rst, "WebSocket limits").

Each test attacks a real ``runwsserver`` over real sockets and measures the
interface process's resident memory (VmRSS in /proc/PID/status, sampled
every 20 ms); run with ``-s`` to see the figures. Each bound is what the
limits let the server hold, plus the copies made while it works (a message
being encoded for the backend, a send buffer being joined) and room for the
allocator. Without the limits the same attacks grew the process by 330 to
700 MiB. The server's own count of what it holds (a Prometheus gauge) must
come back to zero once the attackers are gone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import string
import subprocess
import threading

import pytest
import requests
import websockets
from websockets.asyncio.client import connect

from ..ops.harness import scrape, value
from ..processes import free_port, manage, rss
from .conftest import make_stack
from .harness import run, wait_until

pytestmark = pytest.mark.timeout(300)

MIB = 1024 * 1024


class PeakRss:
    """Samples a process's RSS in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss(self.pid))


async def settled_rss(pid: int) -> int:
    """RSS once warm-up allocations are done (after a short pause)."""
    await asyncio.sleep(1.0)
    return rss(pid)


def report(name: str, **figures: float) -> None:
    """Print one test's figures (MiB)."""
    print(f"\n{name}: " + ", ".join(f"{k}={v / MIB:.1f} MiB" for k, v in figures.items()))


# --- inbound: permessage-deflate floods ---------------------------------------

#: One message of repeated bytes: 1 MiB (the default max_message_size) that
#: deflate sends as about a KiB.
BOMB = "a" * MIB


@pytest.fixture
def flood_stack(tmp_path):
    """Capacity-4 channels and a worker for everything but websocket.receive:
    sockets are accepted, and their messages find the channel full."""
    s = make_stack(tmp_path, "redis", CHANNELS_TEST_CAPACITY="4")
    s.start_worker("--exclude-channels", "websocket.receive")
    yield s
    s.stop()


async def flood(port: int, sockets: int, messages: int) -> list:
    """Open ``sockets`` deflate WebSockets and send ``messages`` bombs on each."""
    url = f"ws://127.0.0.1:{port}/echo/"
    attackers = [await connect(url, compression="deflate", open_timeout=60) for _ in range(sockets)]
    for ws in attackers:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
    await asyncio.gather(*(send_all(ws, [BOMB] * messages) for ws in attackers))
    return attackers


async def send_all(ws, messages: list) -> None:
    for message in messages:
        await ws.send(message)


async def assert_served(port: int) -> None:
    """HTTP answered by the worker, and a new WebSocket accepted."""
    r = await asyncio.to_thread(requests.get, f"http://127.0.0.1:{port}/", timeout=30)
    assert r.text == "hello\n"
    async with connect(f"ws://127.0.0.1:{port}/echo/", open_timeout=30):
        pass


def buffered(metrics_port: int, direction: str) -> float:
    """The server's count of bytes WebSockets hold (``inbound``/``outbound``)."""
    samples = scrape(metrics_port)
    return value(samples, "channels_interface_websocket_buffered_bytes", direction=direction)


async def close_codes(sockets: list) -> list[int | None]:
    """The close code each socket received, once all are closed."""
    await asyncio.wait_for(asyncio.gather(*(ws.wait_closed() for ws in sockets)), 180)
    return [ws.close_code for ws in sockets]


def inbound_flood(stack, sockets: int, messages: int, bound: int) -> None:
    """``sockets`` attackers flood a server whose websocket.receive is full:
    the interface's RSS grows less than ``bound``; HTTP and new WebSockets
    are served meanwhile; the attackers are closed with 1013 once their
    frames waited --full-wait; RSS falls back; a socket opened before the
    attack still works once a worker reads websocket.receive again."""
    metrics_port = free_port()
    server, port = stack.start_server("--full-wait", "5", "--metrics-port", str(metrics_port))
    pid = server.popen.pid

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/echo/") as bystander:
            base = await settled_rss(pid)
            with PeakRss(pid) as peak:
                attackers = await flood(port, sockets, messages)
                await assert_served(port)
                codes = await close_codes(attackers)
            assert codes == [1013] * sockets
            report(
                f"{sockets} sockets x {messages} deflate bombs",
                base=base,
                peak=peak.peak,
                growth=peak.peak - base,
            )
            assert peak.peak - base < bound
            assert buffered(metrics_port, "inbound") == 0
            # The large buffers were the system's again as soon as freed.
            await asyncio.to_thread(wait_until, lambda: rss(pid) < base + 16 * MIB, 30)
            stack.start_worker()  # reads websocket.receive again
            await bystander.send("still here")
            assert await asyncio.wait_for(bystander.recv(), 60) == "still here"

    run_long(scenario())
    log = server.output()
    assert "--ws-inbound-" in log and "Traceback" not in log


def run_long(coro) -> None:
    """Run a scenario that may take minutes (``run`` allows one)."""
    asyncio.run(asyncio.wait_for(coro, 280))


def test_deflate_bombs_on_a_few_sockets_are_held_per_socket(flood_stack):
    # The attack of issue 10: 6 sockets x 60 frames of about 1 KiB inflate
    # to 360 MiB (+330 MiB of RSS unbounded). Each socket may hold its 4 MiB
    # (--ws-inbound-buffer) and the message it is decoding: 30 MiB in all.
    inbound_flood(flood_stack, sockets=6, messages=60, bound=48 * MIB)


def test_deflate_bombs_on_many_sockets_are_held_per_process(flood_stack):
    # 40 sockets could hold 200 MiB within their own limits (640 MiB
    # unbounded); together they hold the 64 MiB of --ws-inbound-total (each
    # message kept encoded, once, across its retries against the full
    # channel), plus 16 MiB, as above, for the copies made while working
    # (the message being decoded and encoded; a sender batch, at most 1 MiB,
    # framed and packed for Redis), each socket's undecoded read and inflater,
    # and the allocator.
    inbound_flood(flood_stack, sockets=40, messages=16, bound=64 * MIB + 16 * MIB)


def test_max_message_size_applies_to_the_decompressed_message(fast_stack):
    _, port = fast_stack.start_server("--max-message-size", "65536")
    url = f"ws://127.0.0.1:{port}/echo/"

    async def scenario():
        async with connect(url, compression="deflate", max_size=None) as ws:
            await ws.send("a" * 65536)  # exactly the limit: delivered
            assert await ws.recv() == "a" * 65536
        # One byte more, in one frame or in two fragments: 1009, although
        # Autobahn's own check (which allows slack for compressed sizes)
        # would let both through.
        for message in ("a" * 65537, ["a" * 40000, "a" * 25537]):
            async with connect(url, compression="deflate", max_size=None) as ws:
                await ws.send(message)
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 30)
                assert ws.close_code == 1009

    run(scenario())


# --- outbound: clients that do not read ----------------------------------------


async def open_non_reader(port: int, path: str):
    """A WebSocket client with a 4 KiB receive buffer that stops reading after
    its first message (the library pauses the transport once one message is
    queued, and nobody takes it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await connect(
        f"ws://127.0.0.1:{port}{path}",
        sock=sock,
        compression=None,
        max_queue=1,
        ping_interval=None,
        open_timeout=30,
    )


def random_text(size: int) -> str:
    """Text deflate cannot shrink much (so compression changes nothing)."""
    letters = string.ascii_letters.encode()
    return bytes(letters[b % len(letters)] for b in os.urandom(size)).decode()


async def broadcast(port: int, count: int, size: int) -> None:
    """Send ``count`` messages to the room and read every one back (the
    broadcaster is in the room too: it is served throughout)."""
    messages = [random_text(size) for _ in range(16)]
    async with connect(
        f"ws://127.0.0.1:{port}/room/", compression=None, max_size=None, open_timeout=30
    ) as broadcaster:

        async def read_all() -> None:
            for i in range(count):
                assert await asyncio.wait_for(broadcaster.recv(), 60) == messages[i % 16]

        reader = asyncio.ensure_future(read_all())
        for i in range(count):
            await broadcaster.send(messages[i % 16])
        await reader


async def watched_disconnects(watcher, count: int) -> list[str]:
    """The next ``count`` disconnect lines the /watch/ socket receives."""
    return sorted([await asyncio.wait_for(watcher.recv(), 60) for _ in range(count)])


def slow_readers(stack, *args: str, readers: int, expect_code: int, limit: str) -> dict:
    """``readers`` clients that stop reading join the room while 4,000 8 KiB
    messages (32 MiB) are broadcast to it: each is closed with
    ``expect_code`` and counted under ``limit``; the broadcaster, in the room
    too, gets every message. Returns the RSS figures."""
    metrics_port = free_port()
    server, port = stack.start_server("--metrics-port", str(metrics_port), *args)
    pid = server.popen.pid
    figures: dict = {}

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/watch/") as watcher:
            stuck = [await open_non_reader(port, "/room/") for _ in range(readers)]
            base = await settled_rss(pid)
            with PeakRss(pid) as peak:
                await broadcast(port, count=4000, size=8192)
                # ... and the broadcaster's own, 1000, when it is done.
                lines = await watched_disconnects(watcher, readers + 1)
            assert lines == sorted(
                ["disconnect /room/ 1000"] + [f"disconnect /room/ {expect_code}"] * readers
            )
            for ws in stuck:
                ws.transport.abort()
            figures.update(base=base, peak=peak.peak, growth=peak.peak - base)
            assert buffered(metrics_port, "outbound") == 0
            # The send buffers were many small blocks: the allocator keeps
            # them for reuse, so RSS stays near its peak rather than falling.
            figures["after"] = rss(pid)

    run_long(scenario())
    samples = scrape(metrics_port)
    assert value(samples, "channels_interface_websocket_limit_closes_total", limit=limit) == readers
    log = server.output()
    assert f"--ws-{limit.replace('_', '-')}" in log and "Traceback" not in log
    return figures


#: What broadcasting costs the server besides the clients that do not read:
#: the broadcaster's own --ws-inbound-buffer, replies in flight.
BROADCAST_COST = 10 * MIB


def test_clients_that_do_not_read_are_closed_at_their_buffer(fast_stack):
    # 5 clients stop reading: each may hold its 4 MiB (--ws-outbound-buffer)
    # beyond the 64 KiB send buffer, then is closed with 1008 and dropped
    # 5 s (close_timeout) later; unbounded, each would hold all 32 MiB.
    # Twisted joins a send buffer into one string before writing it, so
    # each may briefly take twice its size.
    figures = slow_readers(fast_stack, readers=5, expect_code=1008, limit="outbound_buffer")
    report("5 clients not reading", **figures)
    assert figures["growth"] < 2 * 5 * 4 * MIB + BROADCAST_COST + 8 * MIB
    assert figures["after"] - figures["base"] < 2 * 5 * 4 * MIB + BROADCAST_COST + 8 * MIB


def test_clients_that_do_not_read_are_dropped_at_the_process_total(fast_stack):
    # Each of 6 clients may hold 64 MiB, but all together only 8 MiB: past
    # it, the one holding the most is dropped at once (1013 to the
    # consumer), until all are.
    figures = slow_readers(
        fast_stack,
        "--ws-outbound-buffer",
        str(64 * MIB),
        "--ws-outbound-total",
        str(8 * MIB),
        readers=6,
        expect_code=1013,
        limit="outbound_total",
    )
    report("6 clients not reading, 8 MiB in all", **figures)
    assert figures["growth"] < 2 * 8 * MIB + BROADCAST_COST + 8 * MIB
    assert figures["after"] - figures["base"] < 2 * 8 * MIB + BROADCAST_COST + 8 * MIB


def test_a_client_that_reads_is_not_cut_by_bursts(fast_stack):
    # Replies arrive in batches that briefly fill a send buffer; a reader
    # that keeps up gets all of 16 MiB (broadcast fails on a close).
    _, port = fast_stack.start_server()
    run(broadcast(port, count=500, size=32768))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--ws-inbound-total", "0"], "'0' is not a positive number of bytes"),
        (["--ws-outbound-buffer", "4M"], "'4M' is not a positive number of bytes"),
        (
            ["--max-message-size", str(128 * MIB)],
            f"--max-message-size ({128 * MIB}) must not exceed --ws-inbound-total ({64 * MIB})",
        ),
    ],
)
def test_limits_that_cannot_work_are_refused_at_start(tmp_path, args, error):
    stack = make_stack(tmp_path, "database")
    done = subprocess.run(
        manage("runwsserver", str(free_port()), *args),
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert error in done.stderr and "Traceback" not in done.stderr
