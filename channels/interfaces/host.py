"""What the interface server offers its connections, as an interface.

The server (``server.py``) imports the HTTP and WebSocket protocols and
builds them; they must not import it back. They see it only through
:class:`ConnectionHost`, which lists exactly what a connection, its send
queue, its response flow and its WebSocket bounds may use.
:class:`ServerState` adds what the health endpoint and the heartbeat read.
``Server`` satisfies both (tests/interfaces/test_host.py checks it has every
member).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..backends.base import BaseChannelBackend
from .backend_io.inbox_thread import InboxReader
from .backend_io.sender_thread import BatchSender
from .budget import ByteBudget
from .metrics import NullInterfaceMetrics
from .options import ServerOptions
from .scope import ProxyHeaders


class ConnectionHost(Protocol):
    """The server as its connections see it (reactor thread only)."""

    reactor: Any
    backend: BaseChannelBackend
    options: ServerOptions
    metrics: NullInterfaceMetrics
    #: which proxy headers are believed, or None
    proxy: ProxyHeaders | None
    #: the one sender thread, and the send queues that still hold messages
    sender: BatchSender
    active_queues: set[Any]
    #: the inbox thread (response flow queues its holds on it)
    reader: InboxReader
    #: the pool for blocking backend calls other than sends
    blocking_pool: Any
    #: process-wide byte budgets of WebSockets, and bytes of held responses
    inbound_budget: ByteBudget
    outbound_budget: ByteBudget
    held_response_bytes: int
    #: the health endpoint (an HTTP request asks whether it is one)
    health_check: Any

    def accepting_connections(self) -> bool:
        """Whether a new connection may be accepted now."""

    def connection_opened(self, conn: Any) -> None:
        """Count an open connection (one with a ``kind``)."""

    def connection_closed(self, conn: Any) -> None:
        """Uncount a connection."""

    def new_reply_channel(self) -> str:
        """A fresh reply channel in the process inbox."""

    def register(self, channel: str, conn: Any) -> None:
        """Route replies on ``channel`` to ``conn`` (which has ``reply``)."""

    def unregister(self, channel: str) -> None:
        """Drop replies on ``channel`` from now on."""

    def upgrade_to_websocket(self, request: Any) -> None:
        """Hand an HTTP request's socket to the WebSocket protocol."""

    def origin_allowed(self, origin: str) -> bool:
        """Whether a WebSocket from ``origin`` may connect."""

    def health(self, request: Any) -> None:
        """Answer the health endpoint."""

    def log_access(self, request: Any) -> None:
        """Log one finished HTTP request."""

    def log_error(self, channel: Any, status: int) -> None:
        """Log a request refused before its head was complete."""

    def log_websocket(self, event: str, proto: Any) -> None:
        """Log a WebSocket connect or disconnect."""


class ServerState(ConnectionHost, Protocol):
    """What the health endpoint and the heartbeat read besides."""

    inbox: str
    stopping: bool
    connections: set[Any]
    open_connections: dict[str, int]
    http_in_flight: int
    listening: list[str]
