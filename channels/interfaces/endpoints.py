"""Where the interface server listens: Twisted endpoint descriptions.

Everything the server listens on is a Twisted server endpoint description
(``tcp:8000:interface=127.0.0.1``, ``unix:/run/app.sock``,
``ssl:8443:privateKey=key.pem:certKey=cert.pem``,
``systemd:domain=INET:index=0``), plus one of our own, ``fd:fileno=N``, for
a listening socket handed over by a supervisor. The commands' listening
address, ``--unix-socket`` and ``--fd`` are turned into descriptions here;
``--endpoint`` takes them as written. A description that cannot be used is
refused before the server starts, with an :class:`EndpointError` that says
which part is wrong.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 8000
_ADDRPORT = re.compile(r"^(?:(?P<addr>\[[0-9a-fA-F:.]+\]|[^:\[\]]+):)?(?P<port>\d+)$")
#: Endpoint types people use with this server, named in errors.
KNOWN_TYPES = ("tcp", "tcp6", "unix", "ssl", "systemd", "fd")


class EndpointError(ValueError):
    """A listening address or endpoint description that cannot be used."""


def parse_addrport(value: str | None) -> tuple[str, int]:
    """``"8000"``, ``"0.0.0.0:8000"``, ``"[::1]:8000"`` -> (address, port)."""
    if not value:
        return DEFAULT_ADDR, DEFAULT_PORT
    match = _ADDRPORT.match(value)
    if not match:
        raise EndpointError(f"{value!r} is not a port or address:port")
    addr = (match["addr"] or DEFAULT_ADDR).strip("[]")
    return addr, int(match["port"])


def tcp_endpoint(addr: str, port: int) -> str:
    """A Twisted endpoint description for a TCP listener."""
    return f"tcp:port={port}:interface={_escape(addr)}"


def unix_endpoint(path: str) -> str:
    """A Twisted endpoint description for a UNIX socket listener."""
    return f"unix:address={_escape(path)}:lockfile=0"


def fd_endpoint(fd: int) -> str:
    """A description for a listening socket inherited as file descriptor ``fd``."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        # Not open, or not a socket (a file, a pipe): say so, not a traceback.
        raise EndpointError(f"file descriptor {fd} is not a usable socket: {exc.strerror}") from exc
    try:
        family, kind = sock.family, sock.type
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        sock.detach()  # keep the descriptor open for Twisted
    domain = {socket.AF_INET: "INET", socket.AF_INET6: "INET6", socket.AF_UNIX: "UNIX"}.get(family)
    if domain is None or kind != socket.SOCK_STREAM:
        raise EndpointError(f"file descriptor {fd} is not a TCP or UNIX stream socket")
    if not listening:
        raise EndpointError(f"file descriptor {fd} is a socket that is not listening")
    return f"fd:fileno={fd}:domain={domain}"


def listening_descriptions(
    addrport: str | None = None,
    unix_socket: str | None = None,
    fd: int | None = None,
    endpoints: list[str] | None = None,
) -> list[str]:
    """Every description the server listens on, from the command's options.

    ``--fd``, else ``--unix-socket``, else the address (127.0.0.1:8000 by
    default, unless ``--endpoint`` descriptions are given), then each
    ``--endpoint`` in order.
    """
    described: list[str] = []
    if fd is not None:
        described.append(fd_endpoint(fd))
    elif unix_socket:
        described.append(unix_endpoint(unix_socket))
    elif addrport or not endpoints:
        described.append(tcp_endpoint(*parse_addrport(addrport)))
    return described + list(endpoints or [])


def server_endpoint(reactor: Any, description: str) -> Any:
    """The listening endpoint for ``description``; :class:`EndpointError` if
    it cannot be used (files it names are read now: certificates, keys).

    Twisted's string syntax has no endpoint for an already listening socket
    handed over by a supervisor (only ``systemd:``, which needs LISTEN_FDS),
    so ``fd:`` builds Twisted's adopted-socket endpoint here.
    """
    kind = description.split(":", 1)[0]
    try:
        if kind == "fd":
            return _adopted(reactor, description)
        return serverFromString(reactor, description)
    except EndpointError:
        raise
    except Exception as exc:
        raise EndpointError(f"endpoint {description!r}: {_explain(kind, exc)}") from exc


def check_descriptions(reactor: Any, descriptions: list[str]) -> None:
    """Raise :class:`EndpointError` for the first description that cannot be used."""
    for description in descriptions:
        server_endpoint(reactor, description)


def _adopted(reactor: Any, description: str) -> Any:
    fields = dict(part.split("=", 1) for part in description.split(":")[1:] if "=" in part)
    domains = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}
    domain = fields.get("domain", "INET")
    if domain not in domains:
        raise EndpointError(f"endpoint {description!r}: domain must be INET, INET6 or UNIX")
    if not fields.get("fileno", "").isdigit():
        raise EndpointError(f"endpoint {description!r}: fileno= must be a descriptor number")
    return AdoptedStreamServerEndpoint(reactor, int(fields["fileno"]), domains[domain])


def _explain(kind: str, exc: Exception) -> str:
    """Which part of a description ``exc`` (raised by Twisted's parser) is about."""
    text = str(exc)
    if text.startswith("Unknown endpoint type"):
        return f"unknown endpoint type {kind!r} (use one of {', '.join(KNOWN_TYPES)})"
    if isinstance(exc, ModuleNotFoundError) and kind == "ssl":
        return "TLS needs pyOpenSSL: pip install 'Twisted[tls]'"
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
    if unexpected:
        return f"{kind} takes no option {unexpected[1]!r}"
    missing = re.search(r"missing \d+ required positional argument: '(\w+)'", text)
    if missing:
        return f"{kind} needs {missing[1]!r}"
    number = re.search(r"invalid literal for int\(\) with base \d+: '(.*)'", text)
    if number:
        return f"{number[1]!r} is not a number where {kind} needs one"
    if isinstance(exc, IndexError) and kind == "systemd":
        return "no such socket from systemd (is LISTEN_FDS set, and index= in range?)"
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot read {exc.filename!r}: {exc.strerror}"
    return f"{type(exc).__name__}: {text}"


def _escape(value: str) -> str:
    # Colons separate a description's fields; a literal one is escaped.
    return value.replace(":", "\\:")
