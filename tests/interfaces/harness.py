"""Real runwsserver and runworker processes of the echo project, for tests."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import struct
import subprocess
from pathlib import Path

from ..processes import Process, free_port, manage, project_env, wait_for_port
from ..services import REDIS_URL, redis_available, require_redis  # noqa: F401  (re-exported)


class Stack:
    """Workers and interface servers of the echo project on one backend."""

    def __init__(self, tmp: Path, backend: str, **env: str) -> None:
        self.tmp = tmp
        extra = {"CHANNELS_TEST_SQLITE": str(tmp / "db.sqlite3"), "CHANNELS_TEST_BACKEND": backend}
        if backend == "redis":
            extra["CHANNELS_TEST_REDIS"] = REDIS_URL
            extra["CHANNELS_TEST_PREFIX"] = "t" + secrets.token_hex(6)
        extra.update(env)
        self.env = project_env("echo_project.settings", **extra)
        self.processes: list[Process] = []
        subprocess.run(
            manage("migrate", "--noinput", "-v", "0"), env=self.env, check=True, timeout=120
        )

    def _start(self, argv: list[str], name: str) -> Process:
        proc = Process(argv, self.env, self.tmp / f"{name}{len(self.processes)}.log")
        self.processes.append(proc)
        return proc

    def start_worker(self, *args: str) -> Process:
        """``runworker`` (with extra ``args``), waited for until it serves."""
        proc = self._start(manage("runworker", "-v", "1", *args), "worker")
        proc.wait_for_output("serving")
        return proc

    def start_server(self, *args: str, accept_all: bool = True) -> tuple[Process, int]:
        """``runwsserver`` on a free port; returns (process, port)."""
        port = free_port()
        argv = manage("runwsserver", f"127.0.0.1:{port}", "-v", "1", *args)
        if accept_all:
            argv.append("--accept-all")
        proc = self._start(argv, "server")
        proc.wait_for_output("Listening on")
        wait_for_port(port)
        return proc, port

    def stop(self) -> None:
        """Stop every process (TERM, then KILL)."""
        for proc in reversed(self.processes):
            proc.stop()


def raw_http(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, return everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response."""
    return int(response.split(b" ", 2)[1])


class RawWebSocket:
    """A deliberately minimal client that can send what real clients won't."""

    def __init__(self, port: int, path: str = "/echo/", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            head += chunk
        self.status = status_of(head)
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        """One masked frame."""
        first = (0x80 if fin else 0) | opcode
        mask = secrets.token_bytes(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", first, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_frame_header(self, opcode: int, length: int) -> None:
        """Only the header of a frame announcing ``length`` bytes."""
        self.sock.sendall(struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length) + b"\0\0\0\0")

    def read_close_code(self) -> int | None:
        """Read frames until a close frame; return its code (None on EOF)."""
        while (frame := self.read_frame()) is not None:
            opcode, payload = frame
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return None

    def read_frame(self) -> tuple[int, bytes] | None:
        """The next frame from the server as (opcode, payload); None once the
        connection is closed or reset (or nothing comes within the timeout)."""
        while True:
            if len(self.buffer) >= 2:
                n = self.buffer[1] & 0x7F
                offset = {126: 4, 127: 10}.get(n, 2)
                if n == 126:
                    n = struct.unpack("!H", self.buffer[2:4])[0]
                elif n == 127:
                    n = struct.unpack("!Q", self.buffer[2:10])[0]
                if len(self.buffer) >= offset + n:
                    opcode = self.buffer[0] & 0x0F
                    payload = self.buffer[offset : offset + n]
                    self.buffer = self.buffer[offset + n :]
                    return opcode, payload
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def run(coro):
    """Run a coroutine to completion (tests are synchronous)."""
    return asyncio.run(asyncio.wait_for(coro, 60))


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
