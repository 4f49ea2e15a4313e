"""Requests that two HTTP parsers may read differently get 400: obs-fold
header lines (RFC 9112 5.2) and any Transfer-Encoding other than exactly one
``chunked``. Before, each of these was answered 200 (a folded
``Transfer-Encoding:`` was even taken as chunked), which is how requests
are smuggled past a proxy that reads them the other way."""

from __future__ import annotations

import pytest
import requests

from .harness import raw_http, status_of

pytestmark = pytest.mark.timeout(180)

HOST = b"Host: 127.0.0.1\r\n"

REFUSED = {
    "folded transfer-encoding": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "folded header": b"GET / HTTP/1.1\r\n" + HOST + b"X-A: 1\r\n\tfolded\r\n\r\n",
    "content-length with identity": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Content-Length: 3\r\nTransfer-Encoding: identity\r\n\r\nabc",
    "two transfer-encodings": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunked twice": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "a coding list": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "chunked, then a second line": b"POST /echo/ HTTP/1.1\r\n" + HOST
    + b"Transfer-Encoding: chunked\r\nX-A: 1\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
}  # fmt: skip


def test_ambiguous_framing_is_refused(fast_stack):
    server, port = fast_stack.start_server()
    before = server.rss()
    for name, request in REFUSED.items():
        response = raw_http(port, request)
        assert status_of(response) == 400, name
        assert b"connection: close" in response.lower(), name
    # What is left is served as before: one chunked body, in any case.
    chunked = (
        b"POST /echo/ HTTP/1.1\r\n" + HOST
        + b"Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )  # fmt: skip
    response = raw_http(port, chunked)
    assert status_of(response) == 200 and response.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "hello\n"
    assert server.rss() - before < 16 * 1024 * 1024
    assert "Traceback" not in server.output()
