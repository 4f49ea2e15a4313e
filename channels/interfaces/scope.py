"""The connection fields every message carries: path, headers, client, server.

Shared by the HTTP and WebSocket protocols so both describe a request the
same way (ASGI 1.0 field names and types).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from twisted.internet.address import IPv4Address, IPv6Address

Address = list | None


def address(addr: object) -> Address:
    """``[host, port]`` for a TCP address; ``None`` for a UNIX socket."""
    if isinstance(addr, IPv4Address | IPv6Address):
        return [addr.host, addr.port]
    return None


def split_target(target: bytes) -> tuple[str, bytes]:
    """Split a request target into (decoded path, raw query string).

    Raises ``ValueError`` when the path is not UTF-8 once percent-decoded.
    """
    raw_path, _, query = target.partition(b"?")
    if raw_path.startswith((b"http://", b"https://")):
        # absolute-form (RFC 9112 3.2.2): keep only the path part.
        rest = raw_path.split(b"://", 1)[1]
        raw_path = b"/" + rest.partition(b"/")[2]
    path = unquote_to_bytes(raw_path).decode("utf-8")
    return path or "/", query


def header_list(raw: Iterable[tuple[bytes, list[bytes]]]) -> list[list[bytes]]:
    """Twisted's raw headers as ASGI ``[[name, value], ...]``, names lower-case."""
    return [[name.lower(), value] for name, values in raw for value in values]


@dataclass(frozen=True)
class ProxyHeaders:
    """Which proxies are believed, and which of their headers are read.

    Each header is named by the operator because only they know which ones
    their proxy sets (or overwrites): a header the proxy passes through
    unchanged is whatever the client wrote. ``None`` means "not read".
    """

    #: Addresses or networks of the proxies; "unix" for a UNIX socket peer.
    trusted: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Comma-separated list of addresses, one appended by each proxy.
    host: str | None = "X-Forwarded-For"
    port: str | None = None
    proto: str | None = None


def forwarded(
    client: Address, secure: bool, headers: list[list[bytes]], proxy: ProxyHeaders
) -> tuple[Address, bool]:
    """The client address and whether it used TLS, as the proxies report them.

    Only a peer in ``proxy.trusted`` is believed, and of the address list
    only the entries appended by believed proxies: walking it from the right
    (the entry our peer appended), each entry is taken only while the hop
    that reported it is trusted, and only if it is an IP address. A client
    that writes its own header therefore only adds entries on the left,
    which no trusted hop vouches for.
    """
    if not _peer_trusted(client, proxy.trusted):
        return client, secure
    values = _joined(headers)
    addresses = _values(values, proxy.host)
    if addresses:
        host = client[0] if client is not None else None
        hops = 0
        for entry in reversed(addresses):
            if hops and not _trusted(host, proxy.trusted):
                break  # that hop is not ours to believe
            ip = _ip(entry)
            if ip is None:
                break  # garbage: believe no further
            host, hops = ip, hops + 1
        if hops:
            client = [host, _port(_values(values, proxy.port))]
    proto = _values(values, proxy.proto)
    if proto and proto[-1].lower() in ("http", "https"):
        secure = proto[-1].lower() == "https"
    return client, secure


def apply_proxy_headers(
    client: Address,
    scheme: str,
    headers: list[list[bytes]],
    trusted: Iterable[str],
) -> tuple[Address, str]:
    """:func:`forwarded` with the default header names, for a scheme string.

    The interface server resolves proxy headers once per request with the
    names the operator chose (``ChannelRequest.head_received``); this
    spelling stays for callers that only know the trusted peers.
    """
    client, secure = forwarded(
        client, scheme in ("https", "wss"), headers, ProxyHeaders(tuple(trusted))
    )
    return client, secure_scheme(scheme, secure)


def secure_scheme(scheme: str, secure: bool) -> str:
    """``scheme`` (http or ws) with or without TLS."""
    base = "ws" if scheme.startswith("ws") else "http"
    return base + "s" if secure else base


def _joined(headers: list[list[bytes]]) -> dict[bytes, bytes]:
    # Several lines of one header are one comma-separated list (RFC 9110
    # 5.3), in order: a proxy that adds its own line after the client's is
    # still the right-most.
    values: dict[bytes, bytes] = {}
    for name, value in headers:
        values[name] = values[name] + b"," + value if name in values else value
    return values


def _values(values: dict[bytes, bytes], name: str | None) -> list[str]:
    if not name:
        return []
    raw = values.get(name.lower().encode("latin-1"), b"")
    return [part.strip() for part in raw.decode("latin-1").split(",") if part.strip()]


def _ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or None (IPv6 may be bracketed)."""
    try:
        return str(ipaddress.ip_address(text[1:-1] if text.startswith("[") else text))
    except ValueError:
        return None


def _port(values: list[str]) -> int:
    if values and values[-1].isdigit() and 0 < int(values[-1]) < 65536:
        return int(values[-1])
    return 0


def _peer_trusted(client: Address, trusted: Iterable[str]) -> bool:
    if client is None:
        # A UNIX socket is reachable only through the filesystem: its peer
        # is a local proxy, trusted when "unix" is listed.
        return "unix" in trusted
    return _trusted(client[0], trusted)


def _trusted(host: str | None, trusted: Iterable[str]) -> bool:
    if host is None:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
