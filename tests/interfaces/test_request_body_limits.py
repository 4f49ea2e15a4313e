"""Request bodies that no worker reads yet: the backend holds a few chunks
per request, not the whole upload.

A request's body streams to its ``body_channel`` while the request waits
for a worker. With the default capacity (100 messages of 256 KiB) one
upload could park 25 MiB in Redis, and every request waiting on
``http.request`` one more such body: clients uploading while the workers
are busy or restarting could fill Redis for every other user of it.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import time

import pytest
import redis
import requests

from channels.interfaces.http_request import BODY_CHUNKS_AHEAD

from ..processes import wait_until
from .harness import REDIS_URL, Stack
from .limits import MIB

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

UPLOADS = 3
BLOCK = bytes(range(256)) * 256  # 64 KiB
BODY = 24 * MIB  # BLOCK, 384 times
CHUNK = 256 * 1024
#: What the backend may hold per waiting upload: the request with its first
#: chunk and a full body channel (4 chunks), as Redis allocates them (its
#: allocator rounds a 256 KiB value up to a 320 KiB size class). Before
#: the bound it held 30 MiB per upload: all 24 MiB of it.
HELD_PER_UPLOAD = (1 + BODY_CHUNKS_AHEAD) * CHUNK * 5 // 4 + 64 * 1024
#: Interface RSS growth allowed while the uploads wait: two chunks queued per
#: connection and its read buffers, and allocator slack.
RSS_BOUND = 24 * MIB


def start_upload(port: int) -> socket.socket:
    """A connection that has sent the head of a BODY-byte POST to /digest/."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST /digest/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {BODY}\r\n"
        "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n".encode()
    )
    sock.setblocking(False)
    return sock


def push(socks: list[socket.socket], sent: list[int], seconds: float) -> None:
    """Send body bytes on every socket for ``seconds``, as fast as the
    server takes them (``sent[i]``: bytes the kernel accepted so far)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sent != [BODY] * len(socks):
        progressed = False
        for i, sock in enumerate(socks):
            at = sent[i] % len(BLOCK)  # the body is BLOCK repeated
            try:
                sent[i] += sock.send(BLOCK[at : at + min(BODY - sent[i], len(BLOCK) - at)])
                progressed = True
            except BlockingIOError:
                pass
        if not progressed:
            time.sleep(0.05)


def backend_bytes(client: redis.Redis, prefix: str) -> int:
    """What Redis holds under the stack's key prefix."""
    total = 0
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        total += client.memory_usage(key, samples=0) or 0
    return total


def test_uploads_no_worker_reads_yet_hold_a_few_chunks_each(tmp_path):
    stack = Stack(tmp_path, "redis")
    client = redis.Redis.from_url(REDIS_URL)
    prefix = stack.env["CHANNELS_TEST_PREFIX"]
    try:
        server, port = stack.start_server()
        assert requests.get(f"http://127.0.0.1:{port}/__channels__/health", timeout=10).ok
        before = server.rss()
        # No worker yet: the requests wait on http.request, their bodies on
        # their body channels, for as long as the clients keep sending.
        socks = [start_upload(port) for _ in range(UPLOADS)]
        sent = [0] * UPLOADS
        push(socks, sent, seconds=6)
        held = backend_bytes(client, prefix)
        grown = server.rss() - before
        print(f"{UPLOADS} uploads waiting: Redis {held / MIB:.1f} MiB, RSS +{grown / MIB:.1f} MiB")
        assert held <= UPLOADS * HELD_PER_UPLOAD, (
            f"the backend holds {held / MIB:.1f} MiB for {UPLOADS} waiting uploads"
        )
        assert grown <= RSS_BOUND, f"the interface grew {grown / MIB:.1f} MiB"
        # The server stopped reading (TCP back-pressure), it did not refuse.
        assert all(n < BODY for n in sent), sent
        # A worker comes: every upload completes, whole and intact.
        stack.start_worker()
        push(socks, sent, seconds=60)
        assert sent == [BODY] * UPLOADS
        expected = f"{BODY} {hashlib.sha256(BLOCK * (BODY // len(BLOCK))).hexdigest()}"
        for sock in socks:
            sock.setblocking(True)
            sock.settimeout(30)
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
            assert response.read().decode() == expected
            sock.close()
        wait_until(lambda: backend_bytes(client, prefix) < HELD_PER_UPLOAD, timeout=10)
    finally:
        stack.stop()
        client.close()
