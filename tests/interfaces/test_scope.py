"""Unit tests of the connection fields every message carries (scope.py);
test_proxy_headers.py checks the same rules end to end."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

from channels.interfaces.scope import (
    ProxyHeaders,
    address,
    apply_proxy_headers,
    forwarded,
    header_list,
    secure_scheme,
    split_target,
)


def test_address_is_host_and_port_for_tcp_and_none_for_a_unix_socket():
    assert address(IPv4Address("TCP", "10.0.0.1", 5000)) == ["10.0.0.1", 5000]
    assert address(IPv6Address("TCP", "::1", 443)) == ["::1", 443]
    assert address(UNIXAddress(b"/run/app.sock")) is None


@pytest.mark.parametrize(
    "target, path, query",
    [
        (b"/", "/", b""),
        (b"/a%20b/?x=1&y=%20", "/a b/", b"x=1&y=%20"),
        (b"/caf%C3%A9", "/café", b""),
        (b"http://example.com/p?q", "/p", b"q"),  # absolute-form
        (b"https://example.com", "/", b""),
        (b"", "/", b""),
    ],
)
def test_split_target_decodes_the_path_and_keeps_the_query_raw(target, path, query):
    assert split_target(target) == (path, query)


def test_split_target_refuses_a_path_that_is_not_utf8():
    with pytest.raises(UnicodeDecodeError):
        split_target(b"/%FF")


def test_header_list_lowercases_names_and_keeps_repeated_values_in_order():
    raw = [(b"X-Thing", [b"1", b"2"]), (b"Host", [b"example.com"])]
    assert header_list(raw) == [[b"x-thing", b"1"], [b"x-thing", b"2"], [b"host", b"example.com"]]


def test_secure_scheme():
    assert [secure_scheme(s, False) for s in ("http", "https", "ws", "wss")] == [
        "http",
        "http",
        "ws",
        "ws",
    ]
    assert [secure_scheme(s, True) for s in ("http", "ws")] == ["https", "wss"]


PROXY = ProxyHeaders(("127.0.0.1",), "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")


def headers(**values: str) -> list[list[bytes]]:
    return [[name.replace("_", "-").lower().encode(), v.encode()] for name, v in values.items()]


def test_a_trusted_proxy_gives_the_client_address_port_and_scheme():
    client, secure = forwarded(
        ["127.0.0.1", 4000],
        False,
        headers(X_Forwarded_For="203.0.113.9", X_Forwarded_Port="5555", X_Forwarded_Proto="https"),
        PROXY,
    )
    assert client == ["203.0.113.9", 5555] and secure


def test_an_untrusted_peer_is_not_believed():
    peer = ["198.51.100.1", 4000]
    got = forwarded(peer, False, headers(X_Forwarded_For="203.0.113.9"), PROXY)
    assert got == (peer, False)


def test_only_entries_appended_by_trusted_hops_are_believed():
    # The client wrote 6.6.6.6 itself; our proxy appended the real address.
    client, _ = forwarded(
        ["127.0.0.1", 1], False, headers(X_Forwarded_For="6.6.6.6, 203.0.113.9"), PROXY
    )
    assert client == ["203.0.113.9", 0]
    # With the next hop trusted too, its report is believed as well.
    chain = ProxyHeaders(("127.0.0.1", "10.0.0.0/8"), "X-Forwarded-For")
    client, _ = forwarded(
        ["127.0.0.1", 1], False, headers(X_Forwarded_For="203.0.113.9, 10.1.2.3"), chain
    )
    assert client == ["203.0.113.9", 0]


def test_garbage_in_the_address_list_stops_belief_there():
    client, _ = forwarded(["127.0.0.1", 1], False, headers(X_Forwarded_For="nonsense"), PROXY)
    assert client == ["127.0.0.1", 1]


def test_repeated_header_lines_are_one_list_in_order():
    lines = [[b"x-forwarded-for", b"6.6.6.6"], [b"x-forwarded-for", b"[2001:db8::1]"]]
    client, _ = forwarded(["127.0.0.1", 1], False, lines, PROXY)
    assert client == ["2001:db8::1", 0]


def test_a_unix_socket_peer_is_trusted_only_when_listed():
    sent = headers(X_Forwarded_For="203.0.113.9")
    assert forwarded(None, False, sent, PROXY) == (None, False)
    unix = ProxyHeaders(("unix",), "X-Forwarded-For")
    assert forwarded(None, False, sent, unix) == (["203.0.113.9", 0], False)


def test_an_unknown_proto_value_leaves_the_scheme_and_unread_headers_are_ignored():
    assert forwarded(["127.0.0.1", 1], True, headers(X_Forwarded_Proto="gopher"), PROXY)[1]
    not_read = ProxyHeaders(("127.0.0.1",), None, None, None)
    sent = headers(X_Forwarded_For="203.0.113.9", X_Forwarded_Proto="https")
    assert forwarded(["127.0.0.1", 1], False, sent, not_read) == (["127.0.0.1", 1], False)


def test_apply_proxy_headers_reads_the_default_header_for_a_scheme_string():
    client, scheme = apply_proxy_headers(
        ["127.0.0.1", 1], "wss", headers(X_Forwarded_For="203.0.113.9"), ["127.0.0.1"]
    )
    assert client == ["203.0.113.9", 0] and scheme == "wss"
