"""Helpers for the tests that attack the interface server's HTTP limits:
the limits project (echo plus a large stream and an ``http.disconnect``
recorder) and clients that misbehave on purpose."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from .conftest import make_stack
from .harness import Stack

MIB = 1024 * 1024


def limits_stack(tmp_path: Path, backend: str, **env: str) -> Stack:
    """The limits project on ``backend``; its record files go in ``tmp_path``."""
    return make_stack(
        tmp_path,
        backend,
        DJANGO_SETTINGS_MODULE="limits_project.settings",
        CHANNELS_TEST_RECORD_DIR=str(tmp_path),
        **env,
    )


def big_progress(tmp_path: Path, tag: str) -> int:
    """Bytes the ``/big/`` view tagged ``tag`` has produced so far."""
    path = tmp_path / f"big-{tag}.progress"
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def disconnects(tmp_path: Path) -> list[dict]:
    """The ``http.disconnect`` messages the limits project's consumer recorded."""
    path = tmp_path / "disconnects.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def non_reader(port: int, target: str, extra: bytes = b"") -> socket.socket:
    """A client with a 4 KiB receive buffer that asks for ``target`` and never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + extra + b"\r\n")
    return sock


def read_until_closed(sock: socket.socket, timeout: float = 30.0) -> tuple[bytes, bool]:
    """Everything until the server closes; (data, whether it was reset)."""
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
    raise AssertionError(f"the server kept the connection open for {timeout} s")
