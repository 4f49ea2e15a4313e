"""The health endpoint: a generic answer, bounded work, and operators can
move it, limit it to some hosts or turn it off.

Before: with the backend down the body carried the backend's address and
error text, and each request held one of two pool threads for 2 s with an
unbounded queue behind them (20 requests took 20 s).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from ..backends.redis_servers import RedisServer
from ..processes import free_port
from .harness import raw_http, status_of, wait_until
from .limits import limits_stack

pytestmark = pytest.mark.timeout(180)

PATH = "/__channels__/health"


def ask(port: int, path: str = PATH, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """(status, body) of one GET."""
    response = raw_http(
        port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    return status_of(response), response.split(b"\r\n\r\n", 1)[1]


def test_backend_down_gets_a_generic_answer_quickly(tmp_path):
    dead = free_port()  # nothing listens there
    stack = limits_stack(tmp_path, "redis", CHANNELS_TEST_REDIS=f"redis://127.0.0.1:{dead}/0")
    try:
        server, port = stack.start_server()
        before = server.rss()
        answers: list[tuple[int, bytes]] = []
        lock = threading.Lock()

        def one() -> None:
            answer = ask(port)
            with lock:
                answers.append(answer)

        started = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        took = time.monotonic() - started
        print(f"60 health requests with the backend down answered in {took:.1f} s")
        assert len(answers) == 60
        # One check at a time (2 s against a dead Redis); the others wait
        # for it or give up after 3 s. It was 60 s (2 threads x 2 s each).
        assert took < 10, took
        for status, body in answers:
            assert status == 503
            assert json.loads(body)["status"] == "unavailable"
            assert set(json.loads(body)) == {"status", "backend", "connections", "stopping"}
            assert str(dead).encode() not in body and b"127.0.0.1" not in body
            assert b"rror" not in body and b"efused" not in body
        output = server.output()
        # The reason goes to the log, once, not once per request.
        assert output.count("health check: backend unreachable") == 1
        assert server.rss() - before < 16 * 1024 * 1024
    finally:
        stack.stop()


def test_503_while_the_backend_is_down_and_200_once_it_is_back(tmp_path):
    redis_server = RedisServer().start()  # our own: this test kills it
    stack = limits_stack(tmp_path, "redis", CHANNELS_TEST_REDIS=redis_server.url)
    try:
        server, port = stack.start_server()
        status, body = ask(port)
        assert status == 200 and json.loads(body)["backend"] == "reachable"
        redis_server.stop()

        def answered(expected: int) -> bool:
            status, body = ask(port)
            return status == expected

        wait_until(lambda: answered(503), 30)
        status, body = ask(port)
        assert json.loads(body)["status"] == "unavailable"
        assert json.loads(body)["backend"] == "unreachable"
        redis_server.start()
        wait_until(lambda: answered(200), 30)
        # The same server process, across the Redis restart, relays requests
        # to a worker again.
        assert server.popen.poll() is None
        stack.start_worker()
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).text == "hello\n"
    finally:
        stack.stop()
        redis_server.cleanup()


def test_moved_limited_to_hosts_or_off(limits):
    _, port = limits.start_server()
    status, body = ask(port)
    assert status == 200 and json.loads(body)["status"] == "ok"

    # Moved: the old path is the application's again (Django: 404).
    _, port = limits.start_server("--health-path", "/internal/health")
    assert ask(port)[0] == 404
    assert ask(port, "/internal/health")[0] == 200

    # Only for a host name the load balancer uses.
    _, port = limits.start_server("--health-hosts", "health.internal", "localhost")
    assert ask(port, host="health.internal")[0] == 200
    assert ask(port, host="localhost:8000")[0] == 200
    assert ask(port, host="127.0.0.1")[0] == 404

    # Off.
    _, port = limits.start_server("--health-path", "")
    assert ask(port)[0] == 404
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello\n"


def test_results_are_reused_under_a_flood(limits):
    server, port = limits.start_server()
    before = server.rss()
    socks = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        socks.append(sock)
    started = time.monotonic()
    for sock in socks:
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
        sock.close()
    assert time.monotonic() - started < 10
    assert server.rss() - before < 16 * 1024 * 1024
