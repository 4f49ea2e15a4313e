"""``http.disconnect`` (ASGI 1.0, Channels 1.x): sent when an HTTP client
goes away before its response is complete, with the request's
``reply_channel`` and ``path``, so a long poll can stop waiting. Before, no
message was sent at all."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from .harness import wait_until
from .limits import disconnects, non_reader, read_until_closed

pytestmark = pytest.mark.timeout(180)


def test_a_client_leaving_a_long_poll_is_reported(limits, tmp_path):
    limits.start_worker()  # a second: the first is busy with the long poll
    server, port = limits.start_server()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /poll/?s=3&x=%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.5)  # the request has reached the worker
    wait_until(lambda: disconnects(tmp_path), timeout=20)
    (message,) = disconnects(tmp_path)
    assert set(message) == {"reply_channel", "path"}
    assert message["path"] == "/poll/"
    assert message["reply_channel"].startswith("interface.") and "!" in message["reply_channel"]

    # Complete responses are not followed by one, nor is a request refused
    # before it reached a worker; the server is unchanged.
    before = server.rss()
    for _ in range(20):
        assert requests.get(f"http://127.0.0.1:{port}/poll/?s=0", timeout=10).text == "polled\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /poll/ HTTP/1.1\r\n\r\n")  # no Host: 400, never relayed
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
    time.sleep(1)
    assert len(disconnects(tmp_path)) == 1
    assert server.rss() - before < 16 * 1024 * 1024


def test_a_client_dropped_for_not_reading_is_reported(limits, tmp_path):
    server, port = limits.start_server("--response-buffer-size", "100000")
    sock = non_reader(port, "/big/?mib=64&tag=gone")
    read_until_closed(sock)
    sock.close()
    wait_until(lambda: disconnects(tmp_path), timeout=20)
    assert [m["path"] for m in disconnects(tmp_path)] == ["/big/"]
