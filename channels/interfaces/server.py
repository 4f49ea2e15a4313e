"""The interface server: listening sockets, the inbox loop, dispatch, shutdown.

One :class:`Server` per process. It owns:

* one process inbox ``interface.<random>!``; every connection's reply
  channel is ``inbox + random``, so one inbox thread blocking on it serves
  all connections and hands each reply to the reactor thread, where
  :meth:`Server.dispatch` finds the connection;
* one sender thread for sends to the backend, so the reactor never blocks
  on it (each connection's sends stay ordered in its send queue); both
  threads and the queues are in :mod:`channels.interfaces.backend_io`;
* a small thread pool for the other blocking backend calls (heartbeat,
  health check);
* the listening ports (any endpoint of :mod:`.endpoints`: TCP, TLS, UNIX
  socket, systemd or inherited socket);
* graceful shutdown: stop accepting, close WebSockets with 1001, let
  in-flight HTTP responses finish within a grace period, flush the
  ``websocket.disconnect`` messages, stop the inbox loop.

It never imports project code: it only speaks messages to the backend.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from twisted.internet import defer
from twisted.python.threadpool import ThreadPool

from ..backends.base import BaseChannelBackend
from .access_log import AccessLog
from .backend_io.inbox_thread import InboxReader
from .backend_io.reactor_calls import ReactorCalls
from .backend_io.sender_thread import BatchSender
from .budget import ByteBudget
from .endpoints import server_endpoint
from .health import HealthCheck
from .heartbeat import InterfaceHeartbeat
from .http_protocol import ChannelHTTP, ChannelHTTPFactory, ChannelRequest
from .metrics import NullInterfaceMetrics
from .options import ServerOptions
from .scope import ProxyHeaders, secure_scheme
from .ws_protocol import (
    ChannelWebSocketFactory,
    ChannelWebSocketProtocol,
    connection_info,
    origin_allowed,
)

logger = logging.getLogger("channels.interfaces")

#: How long a shutdown waits for aborted connections to be gone (a reactor
#: turn or two; bounded in case a transport never reports its loss).
ABORTED_GONE_WITHIN = 1.0


class Server:
    """A Twisted + Autobahn interface server bound to one channel backend."""

    def __init__(
        self,
        backend: BaseChannelBackend,
        endpoints: Iterable[str],
        options: ServerOptions | None = None,
        *,
        reactor: Any = None,
        access_log: AccessLog | None = None,
        metrics: NullInterfaceMetrics | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.backend = backend
        self.endpoints = list(endpoints)
        self.options = options or ServerOptions()
        self.access_log = access_log
        self.inbox = f"interface.{secrets.token_hex(8)}!"
        #: reply channel -> connection (ChannelRequest or WebSocket protocol)
        self.routes: dict[str, Any] = {}
        #: open connections, HTTP or WebSocket
        self.connections: set[Any] = set()
        #: how many of them are of each kind, and HTTP requests awaiting workers
        #: (plain ints: metrics read them from their own thread)
        self.open_connections = {"websocket": 0, "http": 0}
        self.http_in_flight = 0
        #: send queues with messages still to send (shutdown waits on them)
        self.active_queues: set[Any] = set()
        #: replies that arrived for connections already gone
        self.dropped_replies = 0
        #: bytes of HTTP responses kept for clients that are not reading
        #: (bounded by options.response_buffer_total; see response_flow)
        self.held_response_bytes = 0
        #: what all WebSockets hold together: decoded messages waiting for the
        #: backend, and bytes waiting for clients that do not read
        self.inbound_budget = ByteBudget(self.options.ws_inbound_total, self.reactor.callLater)
        self.outbound_budget = ByteBudget(self.options.ws_outbound_total, self.reactor.callLater)
        self.ports: list[Any] = []
        #: what the ports listen on, kept: a port that stopped listening
        #: (during shutdown) can no longer say
        self.listening: list[str] = []
        self.stopping = False
        self._drained: defer.Deferred | None = None
        #: for blocking backend calls other than sends (heartbeat, health)
        self.blocking_pool = ThreadPool(
            minthreads=1, maxthreads=self.options.blocking_threads, name="channels-blocking"
        )
        self.metrics = metrics or NullInterfaceMetrics()
        self.metrics.watch(self)
        #: how the inbox and sender threads hand results to the reactor: one
        #: queue, so their hand-offs share wake-ups and keep their order
        self.to_reactor = ReactorCalls(self.reactor)
        #: the one thread that sends to the backend, in batches; its
        #: send_many is timed and counted when metrics are on
        self.sender = BatchSender(
            self.reactor,
            self.metrics.wrap_send_many(backend.send_encoded_many),
            hand_back=self.to_reactor.callFromThread,
        )
        self.heartbeat = InterfaceHeartbeat(self, self.options.heartbeat_interval)
        self.health_check = HealthCheck(self)
        options = self.options
        #: which proxy headers are believed, or None (--proxy-headers off)
        self.proxy = (
            ProxyHeaders(
                tuple(options.trusted_proxies),
                options.proxy_host_header or None,
                options.proxy_port_header or None,
                options.proxy_proto_header or None,
            )
            if options.proxy_headers
            else None
        )
        self.reader = InboxReader(backend, self.inbox, self._deliver)
        self.http_factory = ChannelHTTPFactory(self)
        self.ws_factory = ChannelWebSocketFactory(self)

    # --- life cycle ---------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Start the pool, the inbox loop and listening; fires with the ports."""
        self.blocking_pool.start()
        self.sender.start()
        self.reader.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.shutdown)
        # maybeDeferred: a description that cannot be parsed fails the
        # Deferred (exit 1 in run()) instead of raising past it.
        listening = [
            defer.maybeDeferred(
                lambda description=description: server_endpoint(self.reactor, description).listen(
                    self.http_factory
                )
            )
            for description in self.endpoints
        ]
        d = defer.gatherResults(listening, consumeErrors=True)

        def listening_on(ports: list) -> list:
            self.ports = ports
            self.listening = [str(port.getHost()) for port in ports]
            for where in self.listening:
                logger.info("listening on %s", where)
            self.heartbeat.start()
            return ports

        return d.addCallback(listening_on)

    def run(self, on_listening: Any = None, install_signal_handlers: bool = True) -> int:
        """Start and run the reactor until SIGTERM/SIGINT (graceful).

        ``on_listening(ports)`` is called once every endpoint listens.
        Outside the main thread (Django's autoreloader) pass
        ``install_signal_handlers=False``.
        Returns the exit status: 0, or 1 if an endpoint could not listen.
        """

        def failed(failure: Any) -> None:
            logger.error("could not listen: %s", failure.getErrorMessage())
            self.exit_code = 1
            self.reactor.stop()

        def started() -> None:
            d = self.start()
            if on_listening is not None:
                d.addCallback(on_listening)
            d.addErrback(failed)

        self.exit_code = 0
        self.reactor.callWhenRunning(started)
        self.reactor.run(installSignalHandlers=install_signal_handlers)
        return self.exit_code

    def shutdown(self) -> defer.Deferred:
        """Stop gracefully (runs before the reactor stops; delays it)."""
        if self.stopping:
            return defer.succeed(None)
        self.stopping = True
        logger.info("shutting down: %d connections open", len(self.connections))
        for port in self.ports:
            port.stopListening()
        for conn in list(self.connections):
            conn.shut_down()
        d = self._wait_drained(self.options.grace_period)
        d.addCallback(lambda _: self._abort_remaining())
        # An aborted connection is lost (and queues its disconnect message)
        # only a reactor turn later: wait for that before waiting on queues.
        d.addCallback(lambda _: self._wait_drained(ABORTED_GONE_WITHIN))
        d.addCallback(lambda _: self._wait_queues(self.options.application_close_timeout))
        d.addCallback(lambda _: self._stop_threads())
        return d

    def _wait_drained(self, timeout: float) -> defer.Deferred:
        if not self.connections:
            return defer.succeed(None)
        self._drained = defer.Deferred()
        timer = self.reactor.callLater(timeout, self._fire_drained)
        return self._drained.addBoth(lambda r: timer.cancel() if timer.active() else None)

    def _fire_drained(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.callback(None)

    def _abort_remaining(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                logger.warning("grace period over: aborting a connection")
                conn.transport.abortConnection()

    def _wait_queues(self, timeout: float) -> defer.Deferred:
        # Disconnect messages are queued per connection; give them a bounded
        # time to reach the backend. Checked every 50 ms during shutdown only.
        d = defer.Deferred()
        deadline = self.reactor.seconds() + timeout

        def check() -> None:
            if not self.active_queues:
                d.callback(None)
            elif self.reactor.seconds() >= deadline:
                # Said once, so an operator knows some disconnect consumers
                # (and whatever else was queued) will never run.
                logger.warning(
                    "application close timeout (%gs): %d connections still had messages "
                    "for the backend, their disconnect messages among them; dropped",
                    timeout,
                    len(self.active_queues),
                )
                d.callback(None)
            else:
                self.reactor.callLater(0.05, check)

        check()
        return d

    def _stop_threads(self) -> defer.Deferred:
        self.heartbeat.stop()
        self.reader.stop()

        def stop_blocking() -> None:
            self.sender.stop()
            self.blocking_pool.stop()
            self.reader.join(timeout=self.backend.block_timeout + 5)

        # Joining blocks; do it off the reactor (the pool is gone by then).
        from twisted.internet.threads import deferToThread

        return deferToThread(stop_blocking)

    # --- connections --------------------------------------------------------

    def accepting_connections(self) -> bool:
        """Whether a new connection may be accepted now."""
        if self.stopping:
            return False
        if len(self.connections) >= self.options.max_connections:
            logger.warning("max connections (%d) reached; refusing", self.options.max_connections)
            return False
        return True

    def connection_opened(self, conn: Any) -> None:
        """Count an open connection."""
        if conn not in self.connections:
            self.connections.add(conn)
            self.open_connections[conn.kind] += 1

    def connection_closed(self, conn: Any) -> None:
        """Uncount a connection; fire the shutdown wait when the last goes."""
        if conn in self.connections:
            self.connections.discard(conn)
            self.open_connections[conn.kind] -= 1
        if self.stopping and not self.connections:
            self._fire_drained()

    def new_reply_channel(self) -> str:
        """A fresh reply channel in this process's inbox."""
        return self.backend.new_channel(self.inbox)

    def register(self, channel: str, conn: Any) -> None:
        """Route replies on ``channel`` to ``conn``."""
        if channel not in self.routes and conn.kind == "http":
            self.http_in_flight += 1
        self.routes[channel] = conn

    def unregister(self, channel: str) -> None:
        """Replies on ``channel`` are dropped from now on."""
        conn = self.routes.pop(channel, None)
        if conn is not None and conn.kind == "http":
            self.http_in_flight -= 1

    def _deliver(self, batch: list[tuple[str, dict]], wait: bool) -> None:
        # Runs in the inbox thread: at most one reactor wake-up per batch;
        # with ``wait``, back once the reactor has dispatched it (see
        # .backend_io.inbox_thread). Both go through the same queue, so
        # batches are dispatched in the order they were received.
        if not wait:
            self.to_reactor.callFromThread(self.dispatch_many, batch)
            return
        dispatched = threading.Event()

        def dispatch() -> None:
            try:
                self.dispatch_many(batch)
            finally:
                dispatched.set()

        self.to_reactor.callFromThread(dispatch)
        dispatched.wait()

    def dispatch_many(self, batch: list[tuple[str, dict]]) -> None:
        """Hand a batch of replies to their connections, in order (reactor thread)."""
        for channel, message in batch:
            try:
                self.dispatch(channel, message)
            except Exception:
                # One connection's failure must not cost the others their replies.
                logger.exception("could not deliver a reply on %s", channel)

    def dispatch(self, channel: str, message: dict) -> None:
        """Hand a reply to its connection (reactor thread)."""
        conn = self.routes.get(channel)
        self.metrics.reply(conn is not None)
        if conn is None:
            self.dropped_replies += 1
            return
        try:
            conn.reply(message)
        except Exception:
            logger.exception("error applying a reply on %s", channel)

    def upgrade_to_websocket(self, request: ChannelRequest) -> None:
        """Give the socket of ``request`` to Autobahn for the handshake."""
        try:
            info = connection_info(request, self)
        except UnicodeDecodeError:
            return request.refuse(400, "The request path is not valid UTF-8.")
        # The request resolved the proxy headers with the names the operator
        # chose; those are the client and scheme of the connection.
        info["client"] = request.client
        info["scheme"] = secure_scheme("ws", request.secure)
        request.channel.detach()
        self.ws_factory.pending_info = info
        try:
            WebSocketResource(self.ws_factory).render(request)
        finally:
            self.ws_factory.pending_info = None

    def origin_allowed(self, origin: str) -> bool:
        """Whether a WebSocket from ``origin`` may connect."""
        return origin_allowed(origin, self.options.allowed_hosts + self.options.allowed_origins)

    # --- health and logs ----------------------------------------------------

    def health(self, request: ChannelRequest) -> None:
        """Answer the health endpoint (see :mod:`.health`)."""
        self.health_check.answer(request)

    def log_access(self, request: ChannelRequest) -> None:
        """Count a finished HTTP request; one access log line."""
        self.metrics.http_response(request.code)
        if self.access_log is None:
            return
        client = getattr(request, "client_for_log", None)
        host = client[0] if client else getattr(request.getClientAddress(), "host", None)
        self.access_log.http(
            host,
            _text(request.method),
            _text(request.uri),
            _text(request.clientproto),
            request.code,
            request.bytes_sent,
        )

    def log_websocket(self, event: str, proto: ChannelWebSocketProtocol) -> None:
        """One access log line per WebSocket ``connect`` and ``disconnect``."""
        if self.access_log is not None:
            client = proto.info.get("client")
            self.access_log.websocket(
                event, client[0] if client else None, proto.info.get("path", "-")
            )

    def log_error(self, channel: ChannelHTTP, status: int) -> None:
        """Count and log a request refused before its head was complete."""
        self.metrics.http_response(status)
        if self.access_log is not None:
            peer = channel.transport.getPeer() if channel.transport else None
            self.access_log.refused(getattr(peer, "host", None), status)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
