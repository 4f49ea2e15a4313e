"""The connection fields every message carries: path, headers, client, server.

Shared by the HTTP and WebSocket protocols so both describe a request the
same way (ASGI 1.0 field names and types).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
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


def apply_proxy_headers(
    client: Address,
    scheme: str,
    headers: list[list[bytes]],
    trusted: Iterable[str],
) -> tuple[Address, str]:
    """Client address and scheme as the trusted proxy reports them.

    Only a peer in ``trusted`` (addresses or networks) is believed; anyone
    else could claim any address. The right-most X-Forwarded-For entry is the
    one our proxy added, so it is the one used.
    """
    if client is None and not _unix_trusted(trusted):
        return client, scheme
    if client is not None and not _trusted(client[0], trusted):
        return client, scheme
    # Several lines of one header are one comma-separated list (RFC 9110
    # 5.3): a proxy that adds its own X-Forwarded-For line after the
    # client's must be the one believed, so keep every line, in order.
    values: dict[bytes, bytes] = {}
    for name, value in headers:
        values[name] = values[name] + b"," + value if name in values else value
    forwarded = values.get(b"x-forwarded-for") or values.get(b"x-real-ip")
    if forwarded:
        host = forwarded.split(b",")[-1].strip().decode("latin-1")
        port_value = values.get(b"x-forwarded-port", b"").split(b",")[-1].strip()
        port = int(port_value) if _digits(port_value) and int(port_value) < 65536 else 0
        client = [host, port]
    proto = values.get(b"x-forwarded-proto")
    if proto:
        proto = proto.split(b",")[-1].strip().lower()
        if proto in (b"http", b"https"):
            secure = proto == b"https"
            scheme = ("wss" if secure else "ws") if scheme.startswith("ws") else proto.decode()
    return client, scheme


def _digits(value: bytes | None) -> bool:
    return bool(value) and value.isdigit()


def _unix_trusted(trusted: Iterable[str]) -> bool:
    # A UNIX socket is reachable only through the filesystem: its peer is a
    # local proxy, trusted when "unix" is listed.
    return "unix" in trusted
