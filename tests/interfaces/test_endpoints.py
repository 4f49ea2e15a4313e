"""Unit tests of endpoints.py: the listening options as Twisted endpoint
descriptions, and errors that name the wrong part (test_tls.py and
test_deploy_options.py listen on them for real)."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import AdoptedStreamServerEndpoint, TCP4ServerEndpoint

from channels.interfaces.endpoints import (
    EndpointError,
    fd_endpoint,
    listening_descriptions,
    parse_addrport,
    server_endpoint,
)


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, ("127.0.0.1", 8000)),
        ("9000", ("127.0.0.1", 9000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8443", ("::1", 8443)),
        ("localhost:8001", ("localhost", 8001)),
    ],
)
def test_parse_addrport(value, expected):
    assert parse_addrport(value) == expected


@pytest.mark.parametrize("value", ["http://x:80", "::1:80", "a:b", "8000:"])
def test_parse_addrport_refuses_what_is_not_an_address(value):
    with pytest.raises(EndpointError, match="is not a port or address:port"):
        parse_addrport(value)


def test_listening_descriptions():
    assert listening_descriptions() == ["tcp:port=8000:interface=127.0.0.1"]
    assert listening_descriptions("[::1]:9000") == ["tcp:port=9000:interface=\\:\\:1"]
    assert listening_descriptions(unix_socket="/run/a:b.sock") == [
        "unix:address=/run/a\\:b.sock:lockfile=0"
    ]
    # -e alone: only there; with an address too: both, the address first.
    assert listening_descriptions(endpoints=["unix:/x.sock"]) == ["unix:/x.sock"]
    assert listening_descriptions("9000", endpoints=["unix:/x.sock"]) == [
        "tcp:port=9000:interface=127.0.0.1",
        "unix:/x.sock",
    ]


def test_server_endpoint_builds_twisted_endpoints_and_our_fd_one():
    assert isinstance(
        server_endpoint(reactor, "tcp:port=0:interface=127.0.0.1"), TCP4ServerEndpoint
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        description = fd_endpoint(sock.fileno())
        assert description == f"fd:fileno={sock.fileno()}:domain=INET"
        assert isinstance(server_endpoint(reactor, description), AdoptedStreamServerEndpoint)


@pytest.mark.parametrize(
    "description, says",
    [
        ("fd:fileno=x", "fileno= must be a descriptor number"),
        ("fd:fileno=3:domain=INET7", "domain must be INET, INET6 or UNIX"),
        ("tcp", "tcp needs 'port'"),
        ("unix:/x.sock:mode=rw", "'rw' is not a number where unix needs one"),
    ],
)
def test_server_endpoint_errors_name_the_wrong_part(description, says):
    with pytest.raises(EndpointError) as error:
        server_endpoint(reactor, description)
    assert str(error.value) == f"endpoint {description!r}: {says}"


def test_fd_endpoint_refuses_a_socket_that_is_not_listening():
    with socket.socket() as sock:
        with pytest.raises(EndpointError, match="is a socket that is not listening"):
            fd_endpoint(sock.fileno())
