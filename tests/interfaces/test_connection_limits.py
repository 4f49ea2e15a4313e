"""Promises about connections that had no test: ``--max-connections``, the
WebSocket keep-alive (``--ping-interval``/``--ping-timeout``) and the HTTP
``--idle-timeout``, each over real sockets against a real ``runwsserver``."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect

from .harness import RawWebSocket, run, wait_until

pytestmark = pytest.mark.timeout(120)

PING, PONG, CLOSE = 0x9, 0xA, 0x8


def refused(port: int) -> bool:
    """Whether a new connection is closed at once, without an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            return sock.recv(100) == b""
        except ConnectionResetError:
            return True


def test_max_connections_refuses_beyond_it_and_accepts_again_once_one_closes(fast_stack):
    server, port = fast_stack.start_server("--max-connections", "3")

    async def scenario():
        sockets = [await connect(f"ws://127.0.0.1:{port}/echo/") for _ in range(3)]
        # WebSockets count as connections: a fourth connection of any kind is refused.
        assert await asyncio.to_thread(refused, port)
        await sockets[0].close()
        await asyncio.to_thread(wait_until, lambda: not refused(port), 20)
        for ws in sockets[1:]:
            await ws.send("still served")
            assert await ws.recv() == "still served"
            await ws.close()

    run(scenario())
    assert "max connections (3) reached; refusing" in server.output()


def test_a_client_that_answers_pings_stays_and_one_that_does_not_is_dropped(fast_stack):
    _, port = fast_stack.start_server("--ping-interval", "0.5", "--ping-timeout", "1")

    async def scenario():
        async with connect(f"ws://127.0.0.1:{port}/watch/") as watcher:
            answering = RawWebSocket(port)
            silent = RawWebSocket(port)
            try:
                assert answering.status == silent.status == 101
                # Three pings answered: still open, and still echoing.
                for _ in range(3):
                    opcode, payload = await asyncio.to_thread(answering.read_frame)
                    assert opcode == PING
                    answering.send_frame(PONG, payload)
                answering.send_frame(0x1, b"alive")
                frame = await asyncio.to_thread(answering.read_frame)
                while frame is not None and frame[0] == PING:
                    answering.send_frame(PONG, frame[1])
                    frame = await asyncio.to_thread(answering.read_frame)
                assert frame == (0x1, b"alive")
                # Pings unanswered: dropped after the timeout (no close
                # handshake with a peer that is not there: 1006).
                frames = []
                while (frame := await asyncio.to_thread(silent.read_frame)) is not None:
                    frames.append(frame[0])
                assert frames and set(frames) == {PING}
                line = await asyncio.wait_for(watcher.recv(), 30)
                assert line == "disconnect /echo/ 1006"
            finally:
                answering.close()
                silent.close()

    run(scenario())


def test_an_idle_keep_alive_connection_is_closed_after_idle_timeout(fast_stack):
    _, port = fast_stack.start_server("--idle-timeout", "1")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not answer.endswith(b"\r\n0\r\n\r\n"):  # the end of a chunked body
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and b"hello\n" in answer
        # Kept alive, then nothing more from the client: the server closes.
        try:
            assert sock.recv(4096) == b""
        except ConnectionResetError:
            pass
