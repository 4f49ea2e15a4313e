"""HTTP/1.1 connections on twisted.web's parser.

Twisted parses the request line, headers, chunked and identity bodies,
keep-alive, pipelining and ``Expect: 100-continue``; each request is a
:class:`~.http_request.ChannelRequest`. This module adds the limits Twisted
does not enforce: a deadline for the whole request head (slowloris), header
count and size answered with 431, exactly one Host (checked by the request),
no obs-fold and no ``Transfer-Encoding`` but one ``chunked`` (400), and a
bounded wait for a client to read what is left when the server closes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.web import http
from zope.interface import implementer

from .http2 import ChannelH2Connection
from .http_request import REASONS, ChannelRequest
from .tls import tls_failure

if TYPE_CHECKING:
    from .host import ConnectionHost

logger = logging.getLogger("channels.interfaces")

__all__ = ["ChannelHTTP", "ChannelHTTPFactory", "ChannelRequest"]


class ChannelHTTP(http.HTTPChannel):
    """Twisted's HTTP/1.1 parser with head deadlines and size limits."""

    requestFactory = ChannelRequest
    #: what the server counts it as
    kind = "http"
    _head_call = None
    _awaiting_head = True
    _read_paused = False
    _head_size = 0
    _head_lines = 0
    _transfer_encodings = 0
    _abort_call = None
    #: Set once this connection will read no further request.
    _stopped = False
    #: Set once any bytes came (over TLS: once the handshake is done).
    _got_data = False
    #: The HTTP/2 connection this one handed over to, when ALPN chose ``h2``.
    http2: ChannelH2Connection | None = None

    def shut_down(self) -> None:
        """The server is stopping: close once the response in progress is
        done, or now if there is none."""
        if self.http2 is not None:
            self.http2.shut_down()
        elif self.requests:
            self.persistent = False
        else:
            self.loseConnection()

    def connectionMade(self) -> None:
        """Apply the limits and start the first head deadline."""
        super().connectionMade()
        options = self.factory.server.options
        # Our own checks answer 431; Twisted's (400, silent close) stay as a
        # backstop a little further out.
        self.MAX_LENGTH = options.max_header_size + 2
        self.totalHeadersSize = options.max_header_size + 1024
        self.maxHeaders = options.max_headers + 10
        self.factory.server.connection_opened(self)
        self._start_head_deadline()

    def _start_head_deadline(self) -> None:
        self._awaiting_head = True
        self._head_size = 0
        self._head_lines = 0
        self._transfer_encodings = 0
        if self._head_call is None:
            self._head_call = self.callLater(
                self.factory.server.options.head_timeout, self._head_timed_out
            )

    def _cancel_head_deadline(self) -> None:
        self._awaiting_head = False
        if self._head_call is not None and self._head_call.active():
            self._head_call.cancel()
        self._head_call = None

    def _head_timed_out(self) -> None:
        self._head_call = None
        if self._awaiting_head and self.transport is not None:
            self._send_error(408)

    def lineReceived(self, line: bytes) -> None:
        """Count the head against our limits before Twisted parses it."""
        if self._stopped:
            return
        if self._awaiting_head:
            self._head_size += len(line) + 2
            self._head_lines += 1
            options = self.factory.server.options
            if (
                self._head_size > options.max_header_size
                or self._head_lines > options.max_headers + 1
            ):
                return self._send_error(431)
            if line[:1] in (b" ", b"\t"):
                # obs-fold (RFC 9112 5.2): a server may reject it, and
                # Twisted would unfold it, even into Transfer-Encoding.
                return self._send_error(400)
        super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:
        """Refuse any Transfer-Encoding but a single ``chunked`` (400).

        Twisted ignores ``identity`` (leaving a Content-Length in force) and
        a second header after it; a proxy in front may read either
        differently, which is how requests are smuggled.
        """
        name, _, value = line.partition(b":")
        if name.lower() == b"transfer-encoding":
            self._transfer_encodings += 1
            if self._transfer_encodings > 1 or value.strip(b" \t").lower() != b"chunked":
                self._send_error(400)
                return False
        return super().headerReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        """One line longer than the whole head may be: 431, not a silent close."""
        self._send_error(431)

    def allHeadersReceived(self) -> None:
        """Head complete: stop the deadline and let the request decide."""
        self._cancel_head_deadline()
        command, target, version = self._command, self._path, self._version
        super().allHeadersReceived()
        self.requests[-1].head_received(command, target, version)

    def requestDone(self, request: ChannelRequest) -> None:
        """A response is finished; on keep-alive, wait for the next head."""
        if self.persistent and self.transport is not None:
            # Before Twisted replays a pipelined head it buffered meanwhile,
            # so that head is counted and timed like any other.
            self._start_head_deadline()
        super().requestDone(request)

    def stop_reading_requests(self) -> None:
        """Answered before the body was read: the connection must end."""
        self._stopped = True
        self.persistent = False
        self.resume_reading()

    def dataReceived(self, data: bytes) -> None:
        """Hand the connection to HTTP/2 if ALPN chose it; ignore bytes once
        we have stopped reading requests."""
        if not self._got_data:
            self._got_data = True
            if getattr(self.transport, "negotiatedProtocol", None) == b"h2":
                self._start_http2()
        if self.http2 is not None:
            self.http2.dataReceived(data)
        elif not self._stopped:
            super().dataReceived(data)

    def _start_http2(self) -> None:
        # This object stays the connection the server counts and shuts down;
        # the HTTP/2 connection takes the transport and its back-pressure.
        self._cancel_head_deadline()
        self.setTimeout(None)
        network = self._networkProducer
        network.unregisterProducer()
        self.http2 = ChannelH2Connection(self.factory.server, self.factory)
        self.http2.makeConnection(self.transport)
        network.registerProducer(self.http2, True)

    def abort_request(self) -> None:
        """Drop the connection (a request's abort; HTTP/2 resets a stream)."""
        if self.transport is not None:
            self.transport.abortConnection()

    def rawDataReceived(self, data: bytes) -> None:
        """Body bytes, unless the request was already answered."""
        if not self._stopped:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        """The body is complete, unless the request was already answered."""
        if not self._stopped and self.requests:
            super().allContentReceived()

    def pause_reading(self) -> None:
        """Stop reading the socket (TCP back-pressure on the client)."""
        if not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pauseProducing()

    def resume_reading(self) -> None:
        """Start reading the socket again."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resumeProducing()

    def _send_error(self, status: int) -> None:
        # Only reached before a head is complete: no Request can answer, so
        # write a minimal response ourselves and close.
        body = f"{status} {REASONS[status].decode()}\n".encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, REASONS[status], len(body), body)
        )
        self.factory.server.log_error(self, status)
        self._cancel_head_deadline()
        self._stopped = True
        self.persistent = False
        self.loseConnection()

    def timeoutConnection(self) -> None:
        """Idle timeout: only meaningful while we still own the transport."""
        if self.transport is not None:
            super().timeoutConnection()

    def loseConnection(self) -> None:
        """Close once what is written is sent, or abort after ``close_timeout``.

        A client that does not read would otherwise keep the connection, and
        everything written to it, for as long as it likes.
        """
        super().loseConnection()
        if self._abort_call is None and self.transport is not None:
            self._abort_call = self.callLater(
                self.factory.server.options.close_timeout, self._abort_unread
            )

    def _abort_unread(self) -> None:
        self._abort_call = None
        if self.transport is not None:
            self.transport.abortConnection()

    def connectionLost(self, reason: Any) -> None:
        """Drop deadlines and tell the server this connection is gone (and
        why, in one line, when TLS failed: a bad or expired certificate, a
        client that does not trust ours, a client that does not speak TLS)."""
        why = tls_failure(reason.value)
        if why is not None:
            peer = self.transport.getPeer() if self.transport is not None else None
            where = f"{getattr(peer, 'host', '-')}:{getattr(peer, 'port', '-')}"
            stage = "TLS error with" if self._got_data else "TLS handshake with"
            logger.warning("%s %s failed: %s", stage, where, why)
        self._cancel_head_deadline()
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        super().connectionLost(reason)
        if self.http2 is not None:
            self.http2.connectionLost(reason)
        self.factory.server.connection_closed(self)

    def detach(self) -> None:
        """The socket now belongs to the WebSocket protocol."""
        self._cancel_head_deadline()
        self.setTimeout(None)
        if self.transport is not None:
            # Autobahn writes to the transport directly; the HTTP channel
            # (and its request) must not stay attached as its producer.
            self.transport.unregisterProducer()
        self.factory.server.connection_closed(self)


@implementer(IProtocolNegotiationFactory)
class ChannelHTTPFactory(http.HTTPFactory):
    """Builds :class:`ChannelHTTP` connections for the server.

    Over TLS it takes part in ALPN, naming the protocols it speaks (a
    client that offers ALPN and finds no protocol named fails its
    handshake with Twisted's TLS).
    """

    protocol = ChannelHTTP

    def __init__(self, server: ConnectionHost) -> None:
        super().__init__(timeout=server.options.idle_timeout)
        self.server = server

    def acceptableProtocols(self) -> list[bytes]:
        """The ALPN protocol names this factory speaks, preferred first."""
        if self.server.options.http2:
            return [b"h2", b"http/1.1"]
        return [b"http/1.1"]

    def buildProtocol(self, addr: Any) -> ChannelHTTP | None:
        """Refuse connections beyond ``max_connections`` or while stopping."""
        if not self.server.accepting_connections():
            return None
        return super().buildProtocol(addr)

    def log(self, request: ChannelRequest) -> None:
        """Write one access-log line per finished request."""
        self.server.log_access(request)
