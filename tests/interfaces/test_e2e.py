"""End to end: real runwsserver + runworker processes, real HTTP and WebSocket
clients, on the database and the Redis backend."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
import requests
import websockets
from websockets.asyncio.client import connect

from .harness import run

pytestmark = pytest.mark.timeout(180)


def test_http_through_requests_and_curl(stack):
    _, port = stack.start_server()
    base = f"http://127.0.0.1:{port}"
    with requests.Session() as session:  # one keep-alive connection
        assert session.get(base + "/").text == "hello\n"
        r = session.post(base + "/echo/", data=b"abc")
        assert (r.status_code, r.content, r.headers["x-method"]) == (200, b"abc", "POST")
        assert r.headers["x-client"] == "127.0.0.1"
        # chunked request body (a generator has no length)
        r = session.post(base + "/echo/", data=(bytes([i]) * 1000 for i in range(10)))
        assert r.content == b"".join(bytes([i]) * 1000 for i in range(10))
        # a body larger than one chunk travels on body_channel
        body = os.urandom(3 * 1024 * 1024 + 17)
        r = session.post(base + "/digest/", data=body)
        assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
        r = session.get(base + "/stream/")
        assert r.headers.get("transfer-encoding") == "chunked"
        assert r.text == "".join(f"part {i}\n" for i in range(5))
        r = session.head(base + "/")
        assert r.status_code == 200 and r.content == b""
        health = session.get(base + "/__channels__/health").json()
        assert health["backend"] == "reachable"
    # curl, with Expect: 100-continue on a body
    out = subprocess.run(
        ["curl", "-sS", "-i", "-H", "Expect: 100-continue", "--data-binary", "x" * 5000,
         base + "/echo/"],
        capture_output=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert out.startswith(b"HTTP/1.1 100 Continue")
    assert b"HTTP/1.1 200 OK" in out and out.endswith(b"x" * 5000)


def test_websocket_echo_binary_large_subprotocol_close(stack):
    _, port = stack.start_server(accept_all=False)
    url = f"ws://127.0.0.1:{port}"

    async def scenario():
        async with connect(url + "/echo/", subprotocols=["chat", "other"], max_size=None) as ws:
            assert ws.subprotocol == "chat"
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xff\x10")
            assert await ws.recv() == b"\x00\xff\x10"
            big = os.urandom(1024 * 1024)
            await ws.send(big)
            assert await ws.recv() == big
            for i in range(20):  # order preserved
                await ws.send(str(i))
            assert [await ws.recv() for _ in range(20)] == [str(i) for i in range(20)]
        with pytest.raises(websockets.InvalidStatus) as rejected:
            async with connect(url + "/reject/"):
                pass
        assert rejected.value.response.status_code == 403
        # A close code instead of True at connect reaches the client as that code.
        async with connect(url + "/refuse/4001/") as ws:
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await ws.recv()
            assert refused.value.rcvd.code == 4001
        async with connect(url + "/close/4123/") as ws:
            await ws.send("bye")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4123

    run(scenario())
    # Without --accept-all, plain HTTP gets a clear 426.
    r = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert r.status_code == 426 and "--accept-all" in r.text


def test_groups_span_two_servers_and_disconnects_arrive(stack):
    _, port_a = stack.start_server()
    _, port_b = stack.start_server()

    async def scenario():
        async with (
            connect(f"ws://127.0.0.1:{port_a}/watch/") as watcher,
            connect(f"ws://127.0.0.1:{port_a}/room/") as a,
            connect(f"ws://127.0.0.1:{port_b}/room/") as b,
        ):
            await a.send("from a")
            assert await b.recv() == "from a"
            assert await a.recv() == "from a"
            await b.send("from b")
            assert await a.recv() == "from b"
            assert await b.recv() == "from b"
            # A clean close with a code, then a dropped TCP connection.
            await b.close(4001)
            assert await watcher.recv() == "disconnect /room/ 4001"
            dropped = await connect(f"ws://127.0.0.1:{port_b}/echo/")
            dropped.transport.abort()
            assert await watcher.recv() == "disconnect /echo/ 1006"
            # b left the group: a message to the room reaches a only.
            await a.send("again")
            assert await a.recv() == "again"

    run(scenario())
