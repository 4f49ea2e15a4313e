"""The interface server's heartbeat, listed by ``channels status``.

Every few seconds the reactor takes a snapshot of the server (open
WebSockets, HTTP connections and requests in flight) and a send thread
records it in the backend with a time to live of three intervals, so a
server that dies drops off the list by itself. Backends without the ops
extension (``NotImplementedError``) simply get no heartbeats. Beats go on
during a graceful shutdown (the record says ``stopping``), and a beat that
fails is logged in one line, never left to Twisted as an unhandled error.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool

from ..operations import (
    INTERFACE_KIND,
    HeartbeatRecord,
    heartbeat_record,
    heartbeat_ttl,
    process_ident,
)

if TYPE_CHECKING:
    from .host import ServerState

logger = logging.getLogger("channels.interfaces")


class InterfaceHeartbeat:
    """Publishes the server's heartbeat every ``interval`` seconds."""

    def __init__(self, server: ServerState, interval: float) -> None:
        self.server = server
        self.interval = interval
        # The inbox name is already unique per process; reuse its token.
        self.ident = process_ident(INTERFACE_KIND, server.inbox.split(".", 1)[1].rstrip("!"))
        self.started = time.time()
        self._loop: LoopingCall | None = None
        self._in_flight = False

    def start(self) -> None:
        """Beat now, then every interval (reactor thread)."""
        if self.interval <= 0:
            return
        self._loop = LoopingCall(self.beat)
        self._loop.clock = self.server.reactor
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        """Stop beating; the last heartbeat expires on its own."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def record(self) -> HeartbeatRecord:
        """A snapshot of the server for ``channels status`` (reactor thread)."""
        server = self.server
        return heartbeat_record(
            self.ident,
            INTERFACE_KIND,
            self.started,
            inbox=server.inbox,
            # Kept at start: a port that stopped listening cannot say.
            listening=list(server.listening),
            connections=server.open_connections["websocket"],
            http_connections=server.open_connections["http"],
            http_in_flight=server.http_in_flight,
            accept_all=server.options.accept_all,
            stopping=server.stopping,
        )

    def beat(self) -> None:
        """Record one heartbeat from a send thread (backend calls block)."""
        if self._in_flight:
            return  # the backend is slow; don't pile heartbeats up behind it
        try:
            record = self.record()
        except Exception:
            # A LoopingCall stops for good on an exception, with a traceback.
            logger.warning("could not take a heartbeat snapshot", exc_info=True)
            return
        self._in_flight = True
        d = deferToThreadPool(
            self.server.reactor,
            self.server.blocking_pool,
            self.server.backend.record_heartbeat,
            record,
            heartbeat_ttl(self.interval),
        )
        d.addErrback(self._failed)
        d.addBoth(self._done)

    def _done(self, _result: object) -> None:
        self._in_flight = False

    def _failed(self, failure: Any) -> None:
        if failure.check(NotImplementedError):
            logger.debug("%r keeps no heartbeats", self.server.backend)
            self.stop()
        else:
            # Advisory only: a backend hiccup must not disturb connections.
            logger.warning("could not record heartbeat: %s", failure.getErrorMessage())
