"""A clean stop logs no traceback. Before, a heartbeat due during the grace
period (after the ports had stopped listening) logged ``Unhandled error in
Deferred ... 'Port' object has no attribute 'socket'``."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from channels.backends.redis import RedisChannelBackend
from channels.exceptions import ChannelFull

from ..services import REDIS_URL
from .harness import RawWebSocket, Stack

pytestmark = pytest.mark.timeout(120)


def test_sigterm_with_requests_in_flight_logs_no_traceback(fast_stack):
    server, port = fast_stack.start_server()
    baseline = server.rss()

    # A request the worker answers after 7 s keeps the grace period going
    # past the next heartbeat (every 5 s).
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    slow.sendall(b"GET /slow/?s=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    ws = RawWebSocket(port)  # closed by the server with 1001
    assert ws.status == 101
    time.sleep(0.5)
    assert server.rss() - baseline < 16 * 1024 * 1024
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    answer = b""
    while chunk := slow.recv(4096):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and b"\r\nlate\n\r\n0\r\n\r\n" in answer
    assert server.wait(30) == 0
    assert time.monotonic() - started < 10 + 10  # the grace period, and some
    assert ws.read_close_code() == 1001
    slow.close()
    ws.close()
    output = server.output()
    assert "shutting down" in output
    assert "Traceback" not in output and "Unhandled error" not in output, output



def test_application_close_timeout_bounds_the_wait_for_the_backend(tmp_path):
    """A shutdown waits ``--application-close-timeout`` for the sockets'
    disconnect messages to reach the backend: with ``websocket.disconnect``
    full (no worker draining it) it gives up after that long and says so;
    with room, every socket's message is there when the server has exited."""
    stack = Stack(tmp_path, "redis")
    backend = RedisChannelBackend(
        HOSTS=[REDIS_URL],
        PREFIX=stack.env["CHANNELS_TEST_PREFIX"],
        CHANNEL_CAPACITY={"websocket.disconnect": 2000},  # as echo_project's settings
    )
    options = ("--application-close-timeout", "2", "--grace-period", "1")
    try:
        for full in (True, False):
            worker = stack.start_worker()  # accepts the handshakes
            server, port = stack.start_server(*options)
            sockets = [RawWebSocket(port) for _ in range(3)]
            assert all(ws.status == 101 for ws in sockets)
            worker.signal(signal.SIGTERM)  # nothing drains websocket.disconnect now
            assert worker.wait(30) == 0
            fillers = 0
            while full:
                results = backend.send_many([("websocket.disconnect", {"filler": 1})] * 100)
                fillers += results.count(None)
                if any(isinstance(result, ChannelFull) for result in results):
                    break
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            assert server.wait(30) == 0
            waited = time.monotonic() - started
            output = server.output()
            assert "Traceback" not in output, output
            taken = []
            while (received := backend.receive_many(["websocket.disconnect"]))[0] is not None:
                taken.append(received[1])
            real = {m["reply_channel"] for m in taken if "filler" not in m}
            if full:
                # 2 s for the queues (after the sockets closed, within the
                # 1 s grace period); the default (10 s) would have kept it
                # well past this.
                assert 2 <= waited < 9, waited
                assert "application close timeout (2s): 3 connections still had messages" in output
                assert len(taken) == fillers and not real
            else:
                assert "application close timeout" not in output
                assert len(real) == 3, taken
            for ws in sockets:
                ws.close()
    finally:
        stack.stop()
