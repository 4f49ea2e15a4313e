"""HTTP/2 over TLS (ALPN ``h2``): the same Django views answer through the
same ``http.request`` path as HTTP/1.1, with HTTP/2's own bounds; HTTP/1.1
clients and WebSockets over ``wss://`` are served next to it.

Real ``runwsserver`` and ``runworker`` processes on Redis, a certificate
made by the test, and real HTTP/2 clients (httpx, curl, and the ``h2``
library for the clients that misbehave on purpose).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import httpx
import psutil
import pytest
import websockets

from ..processes import free_port, wait_for_port
from .certificates import make_server_files
from .harness import wait_until
from .limits import MIB, big_progress, disconnects

pytestmark = pytest.mark.timeout(180)

#: Interface RSS growth allowed while clients that do not read are attacking.
RSS_BOUND = 48 * MIB


@pytest.fixture
def tls(limits, tmp_path):
    """The limits project served on a TLS endpoint: (server, port, files)."""

    def start(*args: str):
        files = make_server_files(tmp_path / "tls")
        tls_port = free_port()
        server, _ = limits.start_server("-e", files.endpoint(tls_port), *args)
        wait_for_port(tls_port)
        return server, tls_port, files

    return start


def h2_client(files) -> httpx.AsyncClient:
    return httpx.AsyncClient(http2=True, verify=ssl.create_default_context(cafile=str(files.root)))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_django_views_answer_over_http2(tls):
    server, port, files = tls("--access-log", "-")
    base = f"https://127.0.0.1:{port}"

    async def go():
        async with h2_client(files) as client:
            page = await client.get(f"{base}/")
            assert page.http_version == "HTTP/2"
            assert page.status_code == 200 and page.text == "hello\n"
            # A POST body reaches the view; the view saw https.
            body = bytes(range(256)) * 1000
            echo = await client.post(f"{base}/echo/", content=body)
            assert echo.http_version == "HTTP/2"
            assert echo.content == body
            assert echo.headers["x-method"] == "POST" and echo.headers["x-scheme"] == "https"
            # A body larger than the stream window and the body chunk size.
            big = b"x" * (3 * MIB)
            digest = await client.post(f"{base}/digest/", content=big)
            assert digest.text.startswith(f"{len(big)} ")
            # A streamed response, and a large one (past the client's window).
            streamed = await client.get(f"{base}/stream/")
            assert streamed.text == "".join(f"part {i}\n" for i in range(5))
            large = await client.get(f"{base}/big/?mib=4&tag=h2")
            assert large.http_version == "HTTP/2" and len(large.content) == 4 * MIB
            # Several streams at once on one connection.
            bodies = [f"stream {i}".encode() * 100 for i in range(8)]
            answers = await asyncio.gather(
                *(client.post(f"{base}/echo/", content=b) for b in bodies)
            )
            assert [a.content for a in answers] == bodies
            assert {a.http_version for a in answers} == {"HTTP/2"}
            addrs = {a.extensions["network_stream"].get_extra_info("client_addr") for a in answers}
            assert len(addrs) == 1
            assert len({a.extensions["stream_id"] for a in answers}) == 8
            # The server's own answers take the same path.
            health = await client.get(f"{base}/__channels__/health")
            assert health.http_version == "HTTP/2" and health.json()["status"] == "ok"

    run(go())
    wait_until(lambda: '"GET /stream/ HTTP/2" 200' in server.output(), 10)
    assert "Traceback" not in server.output()


def test_http11_clients_and_websockets_still_work_next_to_http2(tls):
    server, port, files = tls()
    context = ssl.create_default_context(cafile=str(files.root))

    async def go():
        async with httpx.AsyncClient(http2=False, verify=context) as client:
            page = await client.get(f"https://127.0.0.1:{port}/stream/")
            assert page.http_version == "HTTP/1.1"
            assert page.text == "".join(f"part {i}\n" for i in range(5))
        async with websockets.connect(
            f"wss://127.0.0.1:{port}/echo/", ssl=context, open_timeout=20
        ) as ws:
            await ws.send("over wss")
            assert await ws.recv() == "over wss"

    run(go())
    assert "Traceback" not in server.output()


def test_a_long_poll_outlives_the_idle_timeout_as_on_http11(tls):
    # The idle timeout is for idle connections; a request being answered is
    # bounded by --http-timeout instead (HTTP/1.1 does the same).
    _, port, files = tls("--idle-timeout", "1", "--http-timeout", "20")

    async def go():
        async with h2_client(files) as client:
            polled = await client.get(f"https://127.0.0.1:{port}/poll/?s=3")
            assert polled.http_version == "HTTP/2" and polled.text == "polled\n"

    run(go())


def test_http2_can_be_turned_off(tls):
    _, port, files = tls("--no-http2")

    async def go():
        async with h2_client(files) as client:
            page = await client.get(f"https://127.0.0.1:{port}/")
            assert page.http_version == "HTTP/1.1" and page.text == "hello\n"

    run(go())


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
def test_curl_http2(tls):
    _, port, files = tls()
    done = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(files.root), "-w", "\n%{http_version}",
         f"https://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\n\n2"


class RawH2:
    """An HTTP/2 client on the ``h2`` library that reads frames only when
    told to and never opens its flow-control windows by itself."""

    def __init__(self, port: int, files, settings: dict | None = None) -> None:
        context = ssl.create_default_context(cafile=str(files.root))
        context.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events: list = []

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path: str, headers: list | None = None) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [(":method", "GET"), (":path", path), (":scheme", "https"),
             (":authority", "127.0.0.1")] + (headers or []),
            end_stream=True,
        )  # fmt: skip
        self.flush()
        return stream

    def read(self, timeout: float = 5.0) -> list:
        """One read from the socket; the events it made (none on timeout)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        if not data:
            raise ConnectionError("closed by the server")
        events = self.conn.receive_data(data)
        self.flush()  # SETTINGS and PING acknowledgements only
        self.events.extend(events)
        return events

    def read_until(self, done, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, self.events
            self.read(1.0)

    def status(self, stream: int) -> bytes | None:
        """The status of the response on ``stream``, once its head came."""
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                return dict(event.headers)[b":status"]
        return None

    def close(self) -> None:
        self.sock.close()


def test_http2_bounds_are_advertised_and_enforced(tls):
    _, port, files = tls("--http2-max-streams", "3", "--max-header-size", "4000")
    client = RawH2(port, files)
    client.read_until(lambda: client.conn.remote_settings.max_concurrent_streams == 3)
    assert client.conn.remote_settings.max_header_list_size == 4000
    # A header list over --max-header-size: 431 on that stream only.
    big = client.request("/", [("x-big", "y" * 5000)])
    fine = client.request("/")

    client.read_until(lambda: client.status(big) and client.status(fine))
    assert client.status(big) == b"431" and client.status(fine) == b"200"
    client.close()

    async def many():
        # A client that respects the limit gets all its requests answered.
        async with h2_client(files) as http:
            answers = await asyncio.gather(
                *(http.get(f"https://127.0.0.1:{port}/") for _ in range(10))
            )
            assert [a.text for a in answers] == ["hello\n"] * 10

    run(many())


def test_early_answers_and_resets_end_one_stream_not_the_connection(tls, tmp_path):
    _, port, files = tls("--max-body-size", "100000")
    client = RawH2(port, files)
    # A body declared over --max-body-size: 413 before it is read, then the
    # stream is reset with NO_ERROR so the client stops sending it.
    early = client.conn.get_next_available_stream_id()
    client.conn.send_headers(
        early,
        [(":method", "POST"), (":path", "/echo/"), (":scheme", "https"),
         (":authority", "127.0.0.1"), ("content-length", "500000")],
    )  # fmt: skip
    client.conn.send_data(early, b"x" * 16384)
    client.flush()
    # A response the client abandons: the worker hears http.disconnect.
    abandoned = client.request("/big/?mib=64&tag=abandoned")
    client.read_until(
        lambda: any(
            isinstance(e, h2.events.DataReceived) and e.stream_id == abandoned
            for e in client.events
        )
    )
    client.conn.reset_stream(abandoned)
    client.flush()
    # CONNECT (no :path in HTTP/2): refused on its stream.
    tunnel = client.conn.get_next_available_stream_id()
    client.conn.send_headers(tunnel, [(":method", "CONNECT"), (":authority", "example.com:443")])
    client.flush()
    later = client.request("/")

    def resets():
        return [
            (e.stream_id, e.error_code)
            for e in client.events
            if isinstance(e, h2.events.StreamReset)
        ]

    client.read_until(lambda: client.status(later) is not None and len(resets()) >= 2)
    assert client.status(early) == b"413" and client.status(later) == b"200"
    assert client.status(tunnel) == b"400"
    assert sorted(resets()) == [
        (early, h2.errors.ErrorCodes.NO_ERROR),
        (tunnel, h2.errors.ErrorCodes.NO_ERROR),
    ]
    wait_until(lambda: [d["path"] for d in disconnects(tmp_path)] == ["/big/"], 20)
    client.close()


def test_shutdown_with_http2_connections_open(tls):
    server, port, files = tls()
    client = RawH2(port, files)
    stream = client.request("/")
    client.read_until(lambda: any(isinstance(e, h2.events.StreamEnded) for e in client.events))
    server.popen.terminate()
    # GOAWAY, then the connection closes; the server exits cleanly.
    closed = False
    deadline = time.monotonic() + 20
    while not closed and time.monotonic() < deadline:
        try:
            client.read(1.0)
        except (ConnectionError, OSError):
            closed = True
    assert closed
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in client.events)
    assert server.popen.wait(timeout=30) == 0
    assert stream == 1
    assert "Traceback" not in server.output()


def test_a_stream_waiting_on_a_shut_window_does_not_spin_the_server(tls):
    # Twisted's HTTP/2 send loop kept picking a stream whose data waited on a
    # shut window, sending nothing: the reactor spun (73% of a core here).
    server, port, files = tls("--http-timeout", "60")
    shut = RawH2(port, files)
    shut.request("/big/?mib=50&tag=spin")
    shut.read_until(
        lambda: (
            sum(len(e.data) for e in shut.events if isinstance(e, h2.events.DataReceived)) >= 65535
        )
    )
    process = psutil.Process(server.popen.pid)
    before = process.cpu_times()
    for _ in range(10):
        shut.read(0.3)  # about 3 s: the client reads, but never opens its window
    after = process.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    print(f"server CPU while a stream waits on its window: {used:.2f} s")
    assert used < 1.0, used
    shut.close()


def test_a_client_that_never_opens_its_window_cannot_fill_the_server(tls, limits, tmp_path):
    for _ in range(3):
        limits.start_worker()
    server, port, files = tls("--http-timeout", "8")
    base = f"https://127.0.0.1:{port}"

    async def page():
        async with h2_client(files) as client:
            answer = await client.get(f"{base}/")
            assert answer.http_version == "HTTP/2" and answer.text == "hello\n"

    run(page())
    before = server.rss()
    # One client never opens its windows (it reads the socket, so flow
    # control alone holds the response back); another grants the largest
    # windows and stops reading the socket (TCP holds it back).
    shut = RawH2(port, files)
    shut_stream = shut.request("/big/?mib=300&tag=shut")
    wide = RawH2(port, files, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    wide.conn.increment_flow_control_window(2**31 - 1 - 65535)
    wide.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wide.request("/big/?mib=300&tag=wide")
    peak = before
    rounds = 0
    started = time.monotonic()
    while time.monotonic() - started < 7:
        shut.read(0.2)
        run(page())  # everyone else is served meanwhile
        rounds += 1
        peak = max(peak, server.rss())
    produced = [big_progress(tmp_path, tag) for tag in ("shut", "wide")]
    print(f"interface RSS {before / MIB:.1f} -> peak {peak / MIB:.1f} MiB; worker produced "
          f"{[round(p / MIB, 2) for p in produced]} MiB; {rounds} bystander rounds")  # fmt: skip
    assert min(produced) > 0, "the attack never started"
    assert max(produced) < 64 * MIB, produced
    assert peak - before < RSS_BOUND, (before, peak)
    received = sum(len(e.data) for e in shut.events if isinstance(e, h2.events.DataReceived))
    assert received <= 65535
    # At --http-timeout the server resets the stream the client does not read.
    shut.read_until(
        lambda: any(
            isinstance(e, h2.events.StreamReset) and e.stream_id == shut_stream for e in shut.events
        ),
        timeout=30,
    )
    wait_until(lambda: "client not reading" in server.output(), 30)
    shut.close()
    wide.close()
    run(page())
    assert server.rss() - before < RSS_BOUND
    assert "Traceback" not in server.output()
