"""runwsserver's deployment options with real processes and real clients:
``--unix-socket``, ``--fd``, ``--proxy-headers``/``--trusted-proxies`` and
the access log. What the consumer and the Django view see is read back
through the ops project's ``/meta/`` consumer and ``/whoami/`` view."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from datetime import datetime

import pytest
import requests
import websockets

from ..processes import free_port, manage, wait_for_port
from .conftest import ServerProcess

CLF = re.compile(
    r'^(?P<host>\S+) - - \[(?P<when>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) '
    r"(?P<size>\d+|-)$"
)


def curl_unix(path: str, url: str, *headers: str) -> tuple[int, str]:
    """GET ``url`` over the UNIX socket at ``path`` with curl; (status, body)."""
    argv = ["curl", "-s", "--max-time", "20", "--unix-socket", path, "-w", "\n%{http_code}"]
    for header in headers:
        argv += ["-H", header]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def ws_first_text(url: str, headers: dict | None = None, **kwargs) -> str:
    """Open a WebSocket, return its first text frame, close."""

    async def go() -> str:
        connect = websockets.unix_connect if "path" in kwargs else websockets.connect
        async with connect(uri=url, additional_headers=headers, **kwargs) as ws:
            return await ws.recv()

    return asyncio.run(asyncio.wait_for(go(), 30))


def ws_echo(url: str, **kwargs) -> str:
    """Send one text frame and return the echo."""

    async def go() -> str:
        connect = websockets.unix_connect if "path" in kwargs else websockets.connect
        async with connect(uri=url, **kwargs) as ws:
            await ws.send("over the socket")
            return await ws.recv()

    return asyncio.run(asyncio.wait_for(go(), 30))


# --- --unix-socket --------------------------------------------------------------


def test_unix_socket_serves_http_and_websocket(start_server, tmp_path):
    path = str(tmp_path / "ws.sock")
    server = start_server("--unix-socket", path)
    assert path in server.output()

    assert curl_unix(path, "http://localhost/") == (200, "hello\n")
    status, body = curl_unix(path, "http://localhost/meta/")
    assert status == 200
    # A UNIX socket peer has no address (ASGI: client and server are None).
    assert json.loads(body) == {
        "client": None,
        "server": None,
        "scheme": "http",
        "path": "/meta/",
        "root_path": "",
        "method": "GET",
        "http_version": "1.1",
    }

    # A raw exchange over the socket, for good measure (chunked: Django's
    # response names no length).
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n")

    assert ws_echo("ws://localhost/echo/", path=path) == "over the socket"

    # Proxy headers from a UNIX peer are ignored unless "unix" is trusted.
    status, body = curl_unix(path, "http://localhost/meta/", "X-Forwarded-For: 203.0.113.9")
    assert json.loads(body)["client"] is None

    server.signal(signal.SIGTERM)
    assert server.wait() == 0


def test_unix_socket_behind_a_trusted_local_proxy(start_server, tmp_path):
    path = str(tmp_path / "proxy.sock")
    start_server(
        "--unix-socket", path, "--proxy-headers", "--trusted-proxies", "unix",
        "--proxy-headers-proto", "X-Forwarded-Proto",
    )  # fmt: skip
    headers = ["X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https"]
    meta = json.loads(curl_unix(path, "http://localhost/meta/", *headers)[1])
    assert (meta["client"], meta["scheme"]) == (["203.0.113.9", 0], "https")
    whoami = json.loads(curl_unix(path, "http://localhost/whoami/", *headers)[1])
    assert (whoami["remote_addr"], whoami["scheme"], whoami["secure"]) == (
        "203.0.113.9",
        "https",
        True,
    )


# --- -e/--endpoint ---------------------------------------------------------------


def test_endpoints_unix_and_systemd_next_to_the_address(ops, tmp_path):
    """One process on its address, ``-e unix:PATH`` and ``-e systemd:...``
    (a socket handed over as systemd does: descriptor 3, LISTEN_FDS, its
    LISTEN_FDNAMES, and LISTEN_PID naming the server's own process)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    systemd_port = listener.getsockname()[1]
    port, path = free_port(), str(tmp_path / "e.sock")
    argv = manage(
        "runwsserver", "--accept-all", f"127.0.0.1:{port}",
        "-e", f"unix:{path}", "-e", "systemd:domain=INET:index=0",
    )  # fmt: skip
    # bash moves the socket to descriptor 3, then becomes the server
    # (exec keeps its pid, which LISTEN_PID must name).
    script = (
        f"exec 3<&{listener.fileno()}; "
        'LISTEN_FDS=1 LISTEN_FDNAMES=web LISTEN_PID=$$ exec "$@"'
    )
    server = ServerProcess(
        ["bash", "-c", script, "bash", *argv], ops.env, tmp_path / "server.log",
        pass_fds=[listener.fileno()],
    )  # fmt: skip
    try:
        server.wait_for_output("Listening on")
        listener.close()
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).text == "hello\n"
        assert curl_unix(path, "http://localhost/") == (200, "hello\n")
        meta = requests.get(f"http://127.0.0.1:{systemd_port}/meta/", timeout=20).json()
        assert meta["server"] == ["127.0.0.1", systemd_port]
        assert ws_echo(f"ws://127.0.0.1:{systemd_port}/echo/") == "over the socket"
    finally:
        server.stop()


def test_daphne_spelling_of_the_address(start_server):
    port = free_port()
    start_server("-b", "127.0.0.1", "-p", str(port))
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).text == "hello\n"
    both = start_server(f"127.0.0.1:{free_port()}", "-p", str(free_port()), wait=False)
    assert both.popen.wait(60) == 1
    assert "either as ADDR:PORT or with -b/-p" in both.output()


# --- --fd ---------------------------------------------------------------------


def test_fd_listens_on_an_inherited_socket(start_server):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    server = start_server("--fd", str(fd), pass_fds=[fd])
    # From here on only the server holds the listening socket.
    listener.close()
    wait_for_port(port)
    assert f"port={port}" in server.output()

    meta = requests.get(f"http://127.0.0.1:{port}/meta/", timeout=20).json()
    assert meta["server"] == ["127.0.0.1", port]
    assert meta["client"][0] == "127.0.0.1"
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).text == "hello\n"
    assert ws_echo(f"ws://127.0.0.1:{port}/echo/") == "over the socket"

    server.signal(signal.SIGTERM)
    assert server.wait() == 0


def test_fd_that_is_no_listening_socket_is_a_clear_error(start_server, tmp_path):
    read_end, write_end = os.pipe()
    unbound = socket.socket()
    try:
        for fd, expected in [
            (read_end, "is not a usable socket"),
            (unbound.fileno(), "is a socket that is not listening"),
        ]:
            server = start_server("--fd", str(fd), pass_fds=[fd], wait=False)
            assert server.wait() != 0
            output = server.output()
            assert f"file descriptor {fd} {expected}" in output
            assert "Traceback" not in output
    finally:
        os.close(read_end)
        os.close(write_end)
        unbound.close()


# --- --proxy-headers / --trusted-proxies ---------------------------------------


def meta_and_whoami(port: int, headers: dict) -> tuple[dict, dict]:
    """What the consumer and a Django view saw of one request each."""
    meta = requests.get(f"http://127.0.0.1:{port}/meta/", headers=headers, timeout=20).json()
    whoami = requests.get(f"http://127.0.0.1:{port}/whoami/", headers=headers, timeout=20).json()
    return meta, whoami


def test_proxy_headers_from_a_trusted_proxy(start_server):
    port = free_port()
    start_server(
        f"127.0.0.1:{port}", "--proxy-headers",  # default trust: 127.0.0.1, ::1
        "--proxy-headers-proto", "X-Forwarded-Proto", "--proxy-headers-port", "X-Forwarded-Port",
    )  # fmt: skip

    forwarded = {
        "X-Forwarded-For": "198.51.100.1, 203.0.113.7",  # the right-most is our proxy's
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "8443",
    }
    meta, whoami = meta_and_whoami(port, forwarded)
    assert (meta["client"], meta["scheme"]) == (["203.0.113.7", 8443], "https")
    assert whoami["remote_addr"] == "203.0.113.7" and whoami["secure"] is True
    # The server address is still the real one.
    assert meta["server"] == ["127.0.0.1", port]

    # Only the named headers count: X-Real-IP is not one of them here.
    meta, whoami = meta_and_whoami(port, {"X-Real-IP": "203.0.113.8"})
    assert meta["client"][0] == "127.0.0.1" and meta["scheme"] == "http"
    assert whoami["remote_addr"] == "127.0.0.1" and whoami["secure"] is False

    # A proto the server does not know leaves the scheme alone.
    meta, _ = meta_and_whoami(port, {"X-Forwarded-Proto": "gopher"})
    assert meta["scheme"] == "http" and meta["client"][0] == "127.0.0.1"

    # No headers: the real peer.
    meta, _ = meta_and_whoami(port, {})
    assert meta["client"][0] == "127.0.0.1" and meta["client"][1] > 0

    # WebSocket: the connect message carries the forwarded client and wss.
    text = ws_first_text(
        f"ws://127.0.0.1:{port}/meta/",
        {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
    )
    connect = json.loads(text)
    assert (connect["client"], connect["scheme"]) == (["203.0.113.7", 0], "wss")


def test_a_second_forwarded_for_line_is_the_proxys(start_server):
    # A client's own X-Forwarded-For line comes first; a proxy that adds a
    # line of its own (HAProxy's "option forwardfor") puts it last.
    port = free_port()
    start_server(f"127.0.0.1:{port}", "--proxy-headers")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest("GET", "/meta/")
        conn.putheader("X-Forwarded-For", "6.6.6.6")
        conn.putheader("X-Forwarded-For", "203.0.113.7")
        conn.endheaders()
        meta = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert meta["client"] == ["203.0.113.7", 0]


@pytest.mark.parametrize(
    "args",
    [
        ("--proxy-headers", "--trusted-proxies", "10.0.0.0/8", "192.0.2.1"),
        (),  # --proxy-headers off: nobody is believed
    ],
    ids=["untrusted-peer", "option-off"],
)
def test_proxy_headers_ignored_from_anyone_else(start_server, args):
    port = free_port()
    start_server(f"127.0.0.1:{port}", *args)
    spoofed = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Real-IP": "1.2.3.4",
    }
    meta, whoami = meta_and_whoami(port, spoofed)
    assert meta["client"][0] == "127.0.0.1" and meta["scheme"] == "http"
    assert whoami["remote_addr"] == "127.0.0.1" and whoami["secure"] is False
    connect = json.loads(ws_first_text(f"ws://127.0.0.1:{port}/meta/", spoofed))
    assert connect["client"][0] == "127.0.0.1" and connect["scheme"] == "ws"


# --- the access log --------------------------------------------------------------


def read_log(path, count: int, timeout: float = 10) -> list[str]:
    """Wait for at least ``count`` lines in the access log; return them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_in_common_log_format(start_server, tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    start_server(f"127.0.0.1:{port}", "--access-log", str(log), "--proxy-headers")
    base = f"http://127.0.0.1:{port}"
    hello = requests.get(base + "/?q=1", timeout=20)
    missing = requests.get(base + "/missing/", timeout=20)
    forwarded = requests.get(base + "/", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=20)
    assert (hello.status_code, missing.status_code, forwarded.status_code) == (200, 404, 200)
    assert ws_echo(f"ws://127.0.0.1:{port}/echo/") == "over the socket"
    # A head too large is refused before any request exists: still logged.
    huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(huge)
        assert sock.recv(100).startswith(b"HTTP/1.1 431 ")

    lines = read_log(log, 6)
    assert len(lines) == 6, lines
    parsed = [CLF.match(line) for line in lines]
    assert all(parsed), lines
    for match in parsed:
        when = datetime.strptime(match["when"], "%d/%b/%Y:%H:%M:%S %z")
        assert abs(when.timestamp() - time.time()) < 120

    entries = [(m["host"], m["request"], m["status"], m["size"]) for m in parsed]
    assert entries[0] == ("127.0.0.1", "GET /?q=1 HTTP/1.1", "200", "6")
    assert entries[1] == ("127.0.0.1", "GET /missing/ HTTP/1.1", "404", str(len(missing.content)))
    assert entries[2] == ("203.0.113.7", "GET / HTTP/1.1", "200", "6")
    assert entries[3] == ("127.0.0.1", "WSCONNECT /echo/", "-", "-")
    assert entries[4] == ("127.0.0.1", "WSDISCONNECT /echo/", "-", "-")
    assert entries[5] == ("127.0.0.1", "-", "431", "-")


def test_access_log_to_stdout(start_server):
    port = free_port()
    server = start_server(f"127.0.0.1:{port}", "--access-log", "-")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).text == "hello\n"
    deadline = time.monotonic() + 10
    while '"GET / HTTP/1.1" 200 6' not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in server.output().splitlines() if "GET / HTTP/1.1" in line)
    assert CLF.match(line), line


def test_access_log_as_json_lines(start_server, tmp_path):
    port = free_port()
    log = tmp_path / "access.jsonl"
    start_server(f"127.0.0.1:{port}", "--access-log", str(log), "--access-log-format", "json")
    assert requests.get(f"http://127.0.0.1:{port}/?q=1", timeout=20).text == "hello\n"
    assert ws_echo(f"ws://127.0.0.1:{port}/echo/") == "over the socket"
    entries = [json.loads(line) for line in read_log(log, 3)]
    assert len(entries) == 3, entries
    for entry in entries:
        when = datetime.fromisoformat(entry.pop("time"))
        assert when.tzinfo is not None and abs(when.timestamp() - time.time()) < 120
    assert entries == [
        {
            "event": "http",
            "client": "127.0.0.1",
            "method": "GET",
            "path": "/?q=1",
            "protocol": "HTTP/1.1",
            "status": 200,
            "size": 6,
        },
        {"event": "websocket.connect", "client": "127.0.0.1", "path": "/echo/"},
        {"event": "websocket.disconnect", "client": "127.0.0.1", "path": "/echo/"},
    ]


# --- Daphne's connection options ---------------------------------------------------


def handshake_server_header(port: int) -> str | None:
    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/echo/") as ws:
            return ws.response.headers.get("Server")

    return asyncio.run(asyncio.wait_for(go(), 30))


def test_server_name_on_responses_and_handshakes_or_none(start_server):
    port = free_port()
    start_server(f"127.0.0.1:{port}")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).headers["Server"] == "channels"
    assert handshake_server_header(port) == "channels"

    port = free_port()
    start_server(f"127.0.0.1:{port}", "--server-name", "edge-7")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=20).headers["Server"] == "edge-7"
    assert handshake_server_header(port) == "edge-7"

    port = free_port()
    start_server(f"127.0.0.1:{port}", "--no-server-name")
    assert "Server" not in requests.get(f"http://127.0.0.1:{port}/", timeout=20).headers
    assert handshake_server_header(port) is None


def test_websocket_timeout_closes_a_socket_with_1001_once_its_lifetime_is_over(start_server):
    port = free_port()
    start_server(f"127.0.0.1:{port}", "--websocket-timeout", "1")

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/echo/") as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 30)
            return ws.close_code, ws.close_reason

    assert asyncio.run(asyncio.wait_for(go(), 40)) == (1001, "connection lifetime reached")
