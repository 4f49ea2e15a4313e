"""Hostile input: each answered with the right status or close code, while
the server keeps serving a WebSocket opened before and requests made after."""

from __future__ import annotations

import socket
import time

import pytest
import requests
import websockets
from websockets.asyncio.client import connect

from .harness import RawWebSocket, raw_http, run, status_of

pytestmark = pytest.mark.timeout(180)


def test_hostile_input_is_refused_and_others_are_served(fast_stack):
    _, port = fast_stack.start_server(
        "--max-body-size", "100000", "--head-timeout", "1", "--max-frame-size", "65536",
        "--max-message-size", "65536", "--max-header-size", "8192",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def still_serving() -> None:
        assert requests.get(base + "/", timeout=10).text == "hello\n"

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/echo/") as bystander:

            async def bystander_ok(n: int) -> None:
                await bystander.send(f"still here {n}")
                assert await bystander.recv() == f"still here {n}"

            host = f"Host: 127.0.0.1:{port}\r\n".encode()
            # Oversized headers: 431.
            big = b"GET / HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n"
            assert status_of(raw_http(port, big)) == 431
            many = b"GET / HTTP/1.1\r\n" + host + b"".join(b"X-%d: 1\r\n" % i for i in range(300))
            assert status_of(raw_http(port, many + b"\r\n")) == 431
            await bystander_ok(1)
            # Oversized body, announced: 413 without reading it; streamed: 413 too.
            r = requests.post(base + "/echo/", data=b"x" * 200000, timeout=10)
            assert r.status_code == 413
            r = requests.post(base + "/echo/", data=(b"x" * 50000 for _ in range(4)), timeout=10)
            assert r.status_code == 413
            still_serving()
            # Conflicting Content-Length and Transfer-Encoding: 400.
            smuggle = (
                b"POST /echo/ HTTP/1.1\r\n" + host + b"Content-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            assert status_of(raw_http(port, smuggle)) == 400
            dup_cl = (
                b"POST /echo/ HTTP/1.1\r\n"
                + host
                + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"
            )
            assert status_of(raw_http(port, dup_cl)) == 400
            # No Host, two Hosts: 400.
            assert status_of(raw_http(port, b"GET / HTTP/1.1\r\n\r\n")) == 400
            assert status_of(raw_http(port, b"GET / HTTP/1.1\r\n" + host + host + b"\r\n")) == 400
            # Garbage request line: 400.
            assert status_of(raw_http(port, b"\x16\x03\x01 garbage\r\n\r\n")) == 400
            await bystander_ok(2)
            # Slow headers (slowloris): 408 at the head deadline, though bytes keep coming.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
                slow.sendall(b"GET / HTTP/1.1\r\n" + host)
                started = time.monotonic()
                answer = b""
                for i in range(40):
                    try:
                        slow.sendall(b"X-Slow-%d: 1\r\n" % i)
                    except OSError:
                        break
                    slow.settimeout(0.1)
                    try:
                        answer += slow.recv(4096)
                    except TimeoutError:
                        continue
                    if answer:
                        break
                assert status_of(answer) == 408
                assert time.monotonic() - started < 3
            await bystander_ok(3)
            # Invalid UTF-8 in a text frame: close 1007.
            raw = RawWebSocket(port)
            assert raw.status == 101
            raw.send_frame(0x1, b"ok \xff\xfe")
            assert raw.read_close_code() == 1007
            raw.close()
            # Oversized frame: close 1009 (announced, never sent in full).
            raw = RawWebSocket(port)
            raw.send_frame_header(0x2, 10 * 1024 * 1024)
            assert raw.read_close_code() == 1009
            raw.close()
            # Oversized message in small fragments: 1009 too.
            raw = RawWebSocket(port)
            raw.send_frame(0x2, b"a" * 60000, fin=False)
            raw.send_frame(0x0, b"a" * 60000, fin=True)
            assert raw.read_close_code() == 1009
            raw.close()
            await bystander_ok(4)
            # A foreign Origin: 403; an allowed one works.
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{port}/echo/", origin="https://evil.example"):
                    pass
            assert refused.value.response.status_code == 403
            async with connect(
                f"ws://127.0.0.1:{port}/echo/", origin="http://localhost:3000"
            ) as ws:
                await ws.send("from localhost")
                assert await ws.recv() == "from localhost"
            await bystander_ok(5)

    run(scenario())
    still_serving()


def test_allowed_origins_widens_the_check(fast_stack):
    _, port = fast_stack.start_server("--allowed-origins", ".example.com")

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/echo/", origin="https://app.example.com") as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port}/echo/", origin="https://example.org"):
                pass
        assert refused.value.response.status_code == 403

    run(scenario())
