"""A clean stop logs no traceback. Before, a heartbeat due during the grace
period (after the ports had stopped listening) logged ``Unhandled error in
Deferred ... 'Port' object has no attribute 'socket'``."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from .harness import RawWebSocket

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
