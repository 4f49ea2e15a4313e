"""runwsserver bare on the internet: TLS endpoints (``-e ssl:...``) next to
plain HTTP in one process, with certificates the test makes, clients that
verify them, and endpoint descriptions that are wrong."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess

import pytest
import requests
import websockets

from ..processes import free_port, manage, wait_for_port
from .certificates import make_server_files
from .harness import wait_until

pytestmark = pytest.mark.timeout(120)


def client_context(root) -> ssl.SSLContext:
    """A client TLS context that trusts only ``root`` (and checks the name)."""
    return ssl.create_default_context(cafile=str(root))


def wss_first_text(url: str, context: ssl.SSLContext) -> str:
    async def go() -> str:
        async with websockets.connect(url, ssl=context, open_timeout=20) as ws:
            return await ws.recv()

    return asyncio.run(asyncio.wait_for(go(), 30))


def test_https_and_wss_next_to_plain_http_on_one_process(start_server, tmp_path):
    files = make_server_files(tmp_path / "tls")
    port, tls_port = free_port(), free_port()
    server = start_server(f"127.0.0.1:{port}", "-e", files.endpoint(tls_port))
    wait_for_port(tls_port)
    assert f"port={tls_port}" in server.output() or str(tls_port) in server.output()
    https = f"https://127.0.0.1:{tls_port}"

    # The Django view: request.is_secure(), and the message's scheme.
    seen = requests.get(f"{https}/whoami/", verify=files.root, timeout=20).json()
    assert seen["secure"] is True and seen["scheme"] == "https"
    message = requests.get(f"{https}/meta/", verify=files.root, timeout=20).json()
    assert message["scheme"] == "https"
    # WebSocket over TLS: the consumer sees wss.
    connect = json.loads(
        wss_first_text(f"wss://127.0.0.1:{tls_port}/meta/", client_context(files.root))
    )
    assert connect["scheme"] == "wss"
    # The same process still serves plain HTTP on its other endpoint.
    plain = requests.get(f"http://127.0.0.1:{port}/whoami/", timeout=20).json()
    assert plain["secure"] is False and plain["scheme"] == "http"


def test_a_client_that_refuses_the_certificate_is_a_log_line_not_a_traceback(
    start_server, tmp_path
):
    files = make_server_files(tmp_path / "tls")
    expired = make_server_files(tmp_path / "expired", expired=True)
    port, tls_port, expired_port = free_port(), free_port(), free_port()
    server = start_server(
        f"127.0.0.1:{port}", "-e", files.endpoint(tls_port), "-e", expired.endpoint(expired_port)
    )
    wait_for_port(expired_port)
    # A verifying client that does not trust our root.
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"https://127.0.0.1:{tls_port}/", timeout=20)
    # A verifying client offered an expired certificate.
    with pytest.raises(requests.exceptions.SSLError, match="expired"):
        requests.get(f"https://127.0.0.1:{expired_port}/", verify=expired.root, timeout=20)
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        wss_first_text(f"wss://127.0.0.1:{expired_port}/meta/", client_context(expired.root))
    # One line each, saying why (the clients' alerts), not a traceback.
    wait_until(lambda: server.output().count("TLS handshake with 127.0.0.1:") >= 2, 20)
    log = server.output()
    assert re.search(r"TLS handshake with 127\.0\.0\.1:\d+ failed: tlsv1 alert unknown ca", log)
    assert re.search(r"TLS handshake with 127\.0\.0\.1:\d+ failed: .*certificate expired", log)
    assert "Traceback" not in log
    # And the server goes on serving.
    assert requests.get(f"https://127.0.0.1:{tls_port}/", verify=files.root, timeout=20).ok


@pytest.mark.parametrize(
    "description, says",
    [
        ("foo:8000", "unknown endpoint type 'foo'"),
        ("tcp:eighty", "'eighty' is not a number where tcp needs one"),
        ("tcp:8000:interfce=127.0.0.1", "tcp takes no option 'interfce'"),
        ("ssl:8443:privateKey=/nonexistent/key.pem", "cannot read '/nonexistent/key.pem'"),
        ("systemd:domain=INET:index=0", "no such socket from systemd"),
    ],
)
def test_a_wrong_endpoint_description_says_which_part_is_wrong(ops, description, says):
    done = subprocess.run(
        manage("runwsserver", "--accept-all", "-e", description),
        env={k: v for k, v in ops.env.items() if k not in ("LISTEN_FDS", "LISTEN_PID")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"endpoint {description!r}: {says}" in done.stderr
    assert "Traceback" not in done.stderr


def test_tls_failure_reads_openssls_reasons_and_ignores_other_errors():
    from OpenSSL import SSL

    from channels.interfaces.tls import tls_failure

    error = SSL.Error([("SSL routines", "", "tlsv1 alert unknown ca")])
    assert tls_failure(error) == "tlsv1 alert unknown ca"
    assert tls_failure(SSL.Error()) == "Error"
    assert tls_failure(ConnectionResetError()) is None
