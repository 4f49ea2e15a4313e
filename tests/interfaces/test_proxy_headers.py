"""``--proxy-headers``: only the header the operator names is read, only the
entries trusted proxies appended, and only IP addresses.

Before: a client's own X-Forwarded-For beat the proxy's X-Real-IP, any text
became REMOTE_ADDR (``<script>...``), and X-Forwarded-Proto/-Port were taken
from the client whenever the proxy did not set them.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from ..processes import manage
from .harness import raw_http, status_of
from .test_deploy_options import ws_first_text

pytestmark = pytest.mark.timeout(180)


def seen(port: int, *header_lines: str) -> tuple[dict, dict]:
    """What the consumer (``/meta/``) and a Django view (``/whoami/``) saw of a
    request carrying ``header_lines`` exactly as given (repeats included)."""
    answers = []
    for path in ("/meta/", "/whoami/"):
        # HTTP/1.0: the body is not chunked, it ends with the connection.
        head = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        head += "".join(line + "\r\n" for line in header_lines)
        response = raw_http(port, (head + "\r\n").encode("latin-1"))
        assert status_of(response) == 200, response
        answers.append(json.loads(response.split(b"\r\n\r\n", 1)[1]))
    return answers[0], answers[1]


def client_of(port: int, *header_lines: str) -> str:
    """REMOTE_ADDR as the view saw it (checked against the consumer's view)."""
    meta, whoami = seen(port, *header_lines)
    assert meta["client"][0] == whoami["remote_addr"]
    return whoami["remote_addr"]


def test_only_the_named_header_and_only_addresses(ops):
    server, port = ops.start_server("--proxy-headers")  # trusts 127.0.0.1, reads X-Forwarded-For
    before = server.rss()
    # The proxy's X-Real-IP is not what was named: the client's XFF is read,
    # but as the right-most entry only (what our peer appended).
    assert client_of(port, "X-Forwarded-For: 6.6.6.6, 203.0.113.7", "X-Real-IP: 1.2.3.4") == (
        "203.0.113.7"
    )
    # A proxy appending its own line after the client's is believed.
    assert client_of(port, "X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 203.0.113.7") == (
        "203.0.113.7"
    )
    # Not an address: the peer it came from is the client.
    assert client_of(port, "X-Forwarded-For: <script>alert(1)</script>") == "127.0.0.1"
    assert client_of(port, "X-Forwarded-For: 203.0.113.7:8080") == "127.0.0.1"
    assert client_of(port, "X-Forwarded-For: [2001:db8::1]") == "2001:db8::1"
    # Proto and port are read only when named.
    meta, whoami = seen(port, "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https",
                        "X-Forwarded-Port: 8443")  # fmt: skip
    assert (meta["client"], meta["scheme"], whoami["secure"]) == (["203.0.113.7", 0], "http", False)
    assert server.rss() - before < 16 * 1024 * 1024


def test_x_real_ip_when_named(ops):
    # nginx: proxy_set_header X-Real-IP $remote_addr; X-Forwarded-Proto $scheme.
    _, port = ops.start_server(
        "--proxy-headers", "--proxy-headers-host", "X-Real-IP",
        "--proxy-headers-proto", "X-Forwarded-Proto",
    )  # fmt: skip
    meta, whoami = seen(port, "X-Forwarded-For: 6.6.6.6", "X-Real-IP: 203.0.113.9",
                        "X-Forwarded-Proto: https")  # fmt: skip
    assert (meta["client"], meta["scheme"]) == (["203.0.113.9", 0], "https")
    assert (whoami["remote_addr"], whoami["secure"]) == ("203.0.113.9", True)
    assert client_of(port, "X-Forwarded-For: 6.6.6.6") == "127.0.0.1"
    # The WebSocket connect message is resolved the same way.
    connect = json.loads(
        ws_first_text(
            f"ws://127.0.0.1:{port}/meta/",
            {
                "X-Forwarded-For": "6.6.6.6",
                "X-Real-IP": "203.0.113.9",
                "X-Forwarded-Proto": "https",
            },
        )
    )
    assert (connect["client"], connect["scheme"]) == (["203.0.113.9", 0], "wss")


def test_a_chain_of_trusted_proxies(ops):
    _, port = ops.start_server(
        "--proxy-headers", "--trusted-proxies", "127.0.0.1", "10.0.0.0/8",
        "--proxy-headers-port", "X-Forwarded-Port",
    )  # fmt: skip
    # Entries appended by trusted proxies are walked past, up to the first
    # one no trusted proxy vouches for; what the client wrote further left
    # is never reached.
    meta, _ = seen(port, "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.2.3",
                   "X-Forwarded-Port: 443")  # fmt: skip
    assert meta["client"] == ["198.51.100.7", 443]
    assert client_of(port, "X-Forwarded-For: 10.9.9.9, 10.1.2.3") == "10.9.9.9"
    assert client_of(port, "X-Forwarded-For: nonsense, 10.1.2.3") == "10.1.2.3"


def test_header_names_without_proxy_headers_are_an_error(ops):
    done = subprocess.run(
        manage("runwsserver", "--proxy-headers-proto", "X-Forwarded-Proto"),
        env=ops.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--proxy-headers-proto needs --proxy-headers" in done.stderr
    assert "Traceback" not in done.stderr


def test_untrusted_peers_are_not_believed(ops):
    _, port = ops.start_server(
        "--proxy-headers", "--trusted-proxies", "10.0.0.0/8",
        "--proxy-headers-proto", "X-Forwarded-Proto",
    )  # fmt: skip
    meta, _ = seen(port, "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https")
    assert (meta["client"][0], meta["scheme"]) == ("127.0.0.1", "http")
