"""HTTP responses to clients that do not read: the server keeps a bounded
amount per client and per process, the worker finds its reply channel full
and gives up, and everyone else is served meanwhile.

Before back-pressure, one client with a 4 KiB receive buffer asking for
300 MiB took the interface from 74 to 374 MiB within 4 s (the worker had
streamed all of it), held until the idle timeout.
"""

from __future__ import annotations

import time

import pytest
import requests
from websockets.asyncio.client import connect

from ..processes import free_port
from .conftest import BACKENDS
from .harness import run, wait_until
from .limits import MIB, big_progress, limits_stack, non_reader, read_until_closed

pytestmark = pytest.mark.timeout(240)

#: Interface RSS growth allowed while the attack runs (it was 300 MiB).
RSS_BOUND = 48 * MIB
#: Channel capacity in these tests: a reply channel holds at most 20 of the
#: worker's 256 KiB chunks (5 MiB).
CAPACITY = 20
#: What the worker may produce for a client that reads nothing before it
#: finds the reply channel full (it was all 300 MiB): what the channel holds,
#: what the kernel's socket buffers take (up to 4 MiB on loopback), what the
#: server keeps (--response-buffer-size, 4 MiB), and a little slack.
WORKER_BOUND = CAPACITY * 256 * 1024 + 4 * MIB + 4 * MIB + 2 * MIB


def echo_ws(port: int, text: str) -> str:
    """One WebSocket round trip through the worker."""

    async def go() -> str:
        async with connect(f"ws://127.0.0.1:{port}/echo/") as ws:
            await ws.send(text)
            return await ws.recv()

    return run(go())


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path):
    """The limits project with three workers; a full reply channel is given
    up on after 5 s (30 s in production)."""
    s = limits_stack(
        tmp_path,
        request.param,
        CHANNELS_TEST_REPLY_FULL_TIMEOUT="5",
        CHANNELS_TEST_CAPACITY=str(CAPACITY),
    )
    for _ in range(3):
        s.start_worker()
    yield s
    s.stop()


def test_clients_that_do_not_read_cannot_fill_the_server(stack, tmp_path):
    server, port = stack.start_server("--http-timeout", "8")
    base = f"http://127.0.0.1:{port}"
    # Warm up: one streamed response read in full, a page, a WebSocket.
    assert len(requests.get(base + "/big/?mib=2&tag=warm", timeout=30).content) == 2 * MIB
    assert requests.get(base + "/", timeout=10).text == "hello\n"
    assert echo_ws(port, "warm") == "warm"
    before = server.rss()

    attackers = [non_reader(port, f"/big/?mib=300&tag=a{i}") for i in range(2)]
    peak = before
    served = 0
    started = time.monotonic()
    while time.monotonic() - started < 7:
        # The other clients are served throughout (by the third worker).
        assert requests.get(base + "/", timeout=10).text == "hello\n"
        assert echo_ws(port, f"still here {served}") == f"still here {served}"
        served += 1
        peak = max(peak, server.rss())
        time.sleep(0.2)
    produced = [big_progress(tmp_path, f"a{i}") for i in range(2)]
    print(f"interface RSS {before / MIB:.1f} -> peak {peak / MIB:.1f} MiB; worker produced "
          f"{[round(p / MIB, 2) for p in produced]} MiB; {served} bystander rounds")  # fmt: skip
    assert min(produced) > 0, "the attack never started"
    assert max(produced) < WORKER_BOUND, produced
    assert peak - before < RSS_BOUND, (before, peak)

    # The worker gives up on its full reply channel and tells so in its log.
    workers = stack.processes[:3]
    wait_until(lambda: sum("is full" in w.output() for w in workers) >= 2, timeout=30)
    assert [big_progress(tmp_path, f"a{i}") for i in range(2)] == produced
    # The server drops the clients that read nothing for --http-timeout.
    for sock in attackers:
        data, _ = read_until_closed(sock, timeout=30)
        assert len(data) < WORKER_BOUND
        sock.close()
    assert "client not reading" in server.output()
    assert requests.get(base + "/", timeout=10).text == "hello\n"
    assert server.rss() - before < RSS_BOUND


def test_a_slow_reader_gets_all_of_its_response(limits):
    server, port = limits.start_server()
    sock = non_reader(port, "/big/?mib=6&tag=slow", b"Connection: close\r\n")
    got = 0
    started = time.monotonic()
    sock.settimeout(30)
    while chunk := sock.recv(16384):
        got += len(chunk)
        # About 2 MB/s: slower than the worker, so the response pauses often.
        time.sleep(max(0.0, started + got / 2e6 - time.monotonic()))
    sock.close()
    assert got > 6 * MIB  # the body, plus the head and chunk framing
    assert "client not reading" not in server.output()


def test_past_the_caps_the_connection_is_aborted(limits, tmp_path):
    # Workers for the three clients that do not read, and one for the others
    # (a worker stays on a client it was streaming to until it gives up).
    for _ in range(3):
        limits.start_worker()
    # Per response: less than one 256 KiB chunk may be kept.
    metrics = free_port()
    server, port = limits.start_server(
        "--response-buffer-size", "100000", "--metrics-port", str(metrics)
    )
    sock = non_reader(port, "/big/?mib=64&tag=one")
    data, _ = read_until_closed(sock, timeout=30)
    sock.close()
    assert len(data) < 4 * MIB
    assert "over --response-buffer-size" in server.output()
    scrape = requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).text
    assert 'channels_interface_http_aborted_total{reason="slow client"} 1.0' in scrape
    assert "channels_interface_http_held_bytes 0.0" in scrape  # all released
    # Per process: two clients keeping a chunk each are one too many.
    server, port = limits.start_server(
        "--response-buffer-total", "400000", "--response-buffer-size", str(8 * MIB)
    )
    socks = [non_reader(port, f"/big/?mib=64&tag=t{i}") for i in range(2)]
    wait_until(lambda: "over --response-buffer-total" in server.output(), timeout=30)
    for sock in socks:
        sock.close()
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).text == "hello\n"


def test_a_closing_connection_that_is_not_read_is_dropped(limits):
    """A response written in full but not read, then the 408 for the next
    head that never comes: the connection used to stay, with the megabytes
    not yet sent, until the 60 s idle timeout plus 15 s; now close_timeout
    (5 s) after the server closes it."""
    server, port = limits.start_server("--head-timeout", "1")
    health = f"http://127.0.0.1:{port}/__channels__/health"
    # One 3.5 MiB message: more than the kernel takes for a client that
    # reads nothing, less than --response-buffer-size.
    sock = non_reader(port, "/one/?kib=3500")
    wait_until(lambda: requests.get(health, timeout=5).json()["connections"] == 2, timeout=10)
    started = time.monotonic()
    # 408 after 1 s, then at most 5 s to read it all: only the probe is left.
    wait_until(lambda: requests.get(health, timeout=5).json()["connections"] == 1, timeout=30)
    assert time.monotonic() - started < 1 + 5 + 5
    data, reset = read_until_closed(sock)
    assert reset or len(data) < 3500 * 1024
    sock.close()
    assert "Traceback" not in server.output()
