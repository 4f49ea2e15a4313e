"""Replies to ``websocket.connect`` before the socket is accepted, as Channels
1.x documented them (docs/message-standards.rst, "WebSocket").

A real ``runwsserver`` and a real WebSocket client; the test itself plays
the consumer on the Redis backend, sending exactly what a 1.x consumer's
``message.reply_channel.send(...)`` sends, so every combination is covered
without a route per case.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.asyncio.client import connect

from channels.backends.redis import RedisChannelBackend

from .conftest import make_stack
from .harness import REDIS_URL, run

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server_and_backend(tmp_path):
    """A runwsserver on Redis (no worker) and the backend it uses."""
    stack = make_stack(tmp_path, "redis")
    backend = RedisChannelBackend(
        "default", HOSTS=[REDIS_URL], PREFIX=stack.env["CHANNELS_TEST_PREFIX"]
    )
    # A timeout the tests never reach: a 504 would mean the reply was ignored.
    _, port = stack.start_server("--websocket-connect-timeout", "90", accept_all=False)
    yield port, backend
    backend.close()
    stack.stop()


async def answer_connect(backend, *replies: dict) -> None:
    """Take the next ``websocket.connect`` and send ``replies`` to it."""

    def answer() -> None:
        for _ in range(60):
            channel, message = backend.receive_many(["websocket.connect"], block=True)
            if channel is not None:
                for reply in replies:
                    backend.send(message["reply_channel"], reply)
                return
        raise AssertionError("no websocket.connect arrived")

    await asyncio.to_thread(answer)


async def refused_status(port: int, backend, reply: dict) -> int:
    """The HTTP status the client gets when ``reply`` answers its connect."""
    answering = asyncio.ensure_future(answer_connect(backend, reply))
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"ws://127.0.0.1:{port}/", open_timeout=60):
            pass
    await answering
    return refused.value.response.status_code


async def opened(port: int, backend, *replies: dict) -> tuple[list, int | None]:
    """What the client receives, and the close code, when ``replies``
    answer its connect and the socket opens."""
    answering = asyncio.ensure_future(answer_connect(backend, *replies))
    async with connect(f"ws://127.0.0.1:{port}/", open_timeout=60) as ws:
        await answering
        received = []
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                received.append(await asyncio.wait_for(ws.recv(), 30))
    return received, ws.close_code


@pytest.mark.parametrize(
    "reply",
    [
        {"accept": False},
        {"accept": False, "text": "never sent"},  # accept False wins
        {"accept": False, "close": 4001},
        {"close": True},  # refuses, as before
        {"close": True, "text": ""},  # empty data does not accept
    ],
)
def test_refusals_are_a_403_at_once(server_and_backend, reply):
    port, backend = server_and_backend
    assert run(refused_status(port, backend, reply)) == 403


@pytest.mark.parametrize(
    ("reply", "received", "code"),
    [
        # Data with close: accept, send, then close with the code (1000 for True).
        ({"text": "goodbye", "close": True}, ["goodbye"], 1000),
        ({"bytes": b"\x00\xff", "close": 4003}, [b"\x00\xff"], 4003),
        # accept with close: open, then close.
        ({"accept": True, "close": True}, [], 1000),
        # A close code alone opens then closes with it (this project's way
        # to let browsers see why they were turned away).
        ({"close": 4001}, [], 4001),
    ],
)
def test_data_or_a_code_with_close_opens_then_closes(server_and_backend, reply, received, code):
    port, backend = server_and_backend
    assert run(opened(port, backend, reply)) == (received, code)


def test_data_alone_accepts_and_the_socket_stays_open(server_and_backend):
    port, backend = server_and_backend

    async def scenario():
        answering = asyncio.ensure_future(answer_connect(backend, {"text": "welcome"}))
        async with connect(f"ws://127.0.0.1:{port}/", open_timeout=60) as ws:
            await answering
            assert await asyncio.wait_for(ws.recv(), 30) == "welcome"
            await ws.ping()  # still open
        assert ws.close_code == 1000  # closed by the client

    run(scenario())


def test_an_empty_reply_leaves_the_handshake_waiting(server_and_backend):
    # Neither accept nor refuse: the next reply decides.
    port, backend = server_and_backend
    assert run(opened(port, backend, {"text": ""}, {"text": "then", "close": 4000})) == (
        ["then"],
        4000,
    )
