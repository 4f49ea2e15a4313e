"""HTTP/2 over TLS (ALPN ``h2``) on Twisted's HTTP/2 connection.

Twisted frames HTTP/2 (with the ``h2`` library): its ``H2Connection``
parses frames, keeps flow control and priority, and hands each stream to an
``H2Stream``, which plays the channel of one twisted.web request. Here the
request is our :class:`~.http_request.ChannelRequest`, so a stream becomes
the same ``http.request`` message as an HTTP/1.1 request (``http_version``
``"2"``) and its reply takes the same path: :mod:`.response_flow`
back-pressure, body size, timeouts, header limits. What this module adds:

* the request decides on its head as soon as the stream's headers are in
  (Twisted would only tell it once the body is complete);
* the stream gives the request what :class:`~.http_protocol.ChannelHTTP`
  gives it on HTTP/1.1: pause and resume reading the body (the stream's
  flow-control window stays shut while the worker is behind), and abort
  (a reset of that stream only);
* bounds of HTTP/2's own: at most ``http2_max_streams`` streams open at
  once (SETTINGS_MAX_CONCURRENT_STREAMS; a client opening more breaks the
  protocol and loses the connection), a header list of at most
  ``max_header_size`` advertised (SETTINGS_MAX_HEADER_LIST_SIZE; over it,
  431 from the request, and past twice that HPACK stops decoding and the
  connection ends), and no more than :data:`STREAM_SEND_BUFFER` bytes of
  one response queued in Twisted at a time, whatever window the client
  grants: past it the response's producer is paused, as a full socket
  buffer pauses it on HTTP/1.1, and resumed once the queue has drained;
* a response finished before its request body was read ends the stream
  with RST_STREAM(NO_ERROR) (RFC 9113 8.1), so the client stops sending.

WebSockets stay on HTTP/1.1: the server does not offer RFC 8441's extended
CONNECT, so browsers open their WebSockets on a connection of their own.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import h2.errors
import h2.exceptions
import h2.settings
import priority
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection, H2Stream

from .http_request import ChannelRequest

if TYPE_CHECKING:
    from .host import ConnectionHost

#: Bytes of one response Twisted may hold queued for its stream (sent as the
#: client's windows and the socket allow); as a TCP transport's buffer.
STREAM_SEND_BUFFER = 64 * 1024


class ChannelH2Stream(H2Stream):
    """One HTTP/2 stream: the channel of one :class:`ChannelRequest`."""

    #: set once the client has sent the whole request (END_STREAM)
    body_ended = False

    def requestComplete(self) -> None:
        """The client ended its side of the stream (ignored once the
        request was answered or dropped: HTTP/1.1 stops reading then)."""
        self.body_ended = True
        if not (self._request.finished or self._request._disconnected):
            super().requestComplete()

    def pause_reading(self) -> None:
        """Stop taking body data: the stream's window is not reopened."""
        if self.producing:
            self.pauseProducing()

    def resume_reading(self) -> None:
        """Take body data again, and reopen the window for what was kept."""
        if not self.producing:
            self.resumeProducing()

    def stop_reading_requests(self) -> None:
        """Answered before the body was read: the connection resets the
        stream once the response is sent (see ``_requestDone``)."""

    def abort_request(self) -> None:
        """Reset this stream (the connection's other streams go on)."""
        if self._conn._streamIsActive(self.streamID):
            try:
                self._conn.abortRequest(self.streamID)
            except h2.exceptions.StreamClosedError:
                pass  # closed by the client meanwhile
        self._request.connectionLost(Failure(ConnectionLost("stream reset by the server")))


class ChannelH2Connection(H2Connection):
    """Twisted's HTTP/2 connection with our request class and bounds."""

    requestFactory = ChannelRequest

    def __init__(self, server: ConnectionHost, factory: Any) -> None:
        super().__init__(reactor=server.reactor)
        options = server.options
        self.factory = factory
        self.timeOut = options.idle_timeout
        self.closing = False
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: options.http2_max_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: options.max_header_size,
            },
        )
        # Advertised: max_header_size (431 over it); decoding stops at twice that.
        self.conn.decoder.max_header_list_size = 2 * options.max_header_size

    def _requestReceived(self, event: Any) -> None:
        # Twisted's bookkeeping for a new stream (it names H2Stream itself, so
        # it is repeated here with our class); then the head is decided at once.
        stream = ChannelH2Stream(
            event.stream_id, self, event.headers, self.requestFactory, self.site, self.factory
        )
        self.streams[event.stream_id] = stream
        self._streamCleanupCallbacks[event.stream_id] = Deferred()
        self._outboundStreamQueues[event.stream_id] = deque()
        try:
            self.priority.insert_stream(event.stream_id)
        except priority.DuplicateStreamError:
            pass  # a PRIORITY frame came first and inserted it
        else:
            self.priority.block(event.stream_id)
        request = stream._request
        if stream.path is None:
            # CONNECT has no :path (RFC 9113 8.5); no tunnels here.
            request.method, request.uri, request.clientproto = stream.command, b"", b"HTTP/2"
            request.refuse(400, "CONNECT is not served.")
            return
        request.head_received(stream.command, stream.path, b"HTTP/2")

    def _requestDataReceived(self, event: Any) -> None:
        if self._streamIsActive(event.stream_id):
            super()._requestDataReceived(event)
        else:
            # Body of a stream already answered: dropped, its bytes given back.
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)

    def _requestEnded(self, event: Any) -> None:
        if self._streamIsActive(event.stream_id):
            super()._requestEnded(event)

    def remainingOutboundWindow(self, streamID: int) -> int:
        """Room left for the stream's response: the client's window, but
        never more than :data:`STREAM_SEND_BUFFER` queued."""
        left = super().remainingOutboundWindow(streamID)
        queued = self.conn.local_flow_control_window(streamID) - left
        return min(left, STREAM_SEND_BUFFER - queued)

    def _sendPrioritisedData(self, *args: Any) -> None:
        super()._sendPrioritisedData(*args)
        if not self._stillProducing:
            return
        for stream_id, stream in list(self.streams.items()):
            queue = self._outboundStreamQueues.get(stream_id)
            window = self.conn.local_flow_control_window(stream_id)
            if queue and isinstance(queue[0], bytes) and window <= 0:
                # Data waits on a shut window: Twisted would keep picking the
                # stream and send nothing, spinning the reactor. Blocked, it
                # waits for the WINDOW_UPDATE (Twisted unblocks it then).
                self.priority.block(stream_id)
            elif stream.producer is not None and not stream._producerProducing:
                # A response paused by our cap whose queue has drained goes
                # on (windowUpdated checks the room left).
                stream.windowUpdated()

    def _requestDone(self, streamID: int) -> None:
        stream = self.streams.get(streamID)
        super()._requestDone(streamID)
        if stream is not None and not stream.body_ended and self._stillProducing:
            try:
                self.conn.reset_stream(streamID, error_code=h2.errors.ErrorCodes.NO_ERROR)
            except h2.exceptions.StreamClosedError:
                pass  # reset already (by either side)
            else:
                self._tryToWriteControlData()
        if self.closing and not self.streams and self.transport is not None:
            self.transport.loseConnection()

    def timeoutConnection(self) -> None:
        """Idle timeout, except while a request is being answered: as on
        HTTP/1.1, its own ``http_timeout`` bounds it (a long poll must not
        lose its connection for want of frames)."""
        if any(stream.body_ended for stream in self.streams.values()):
            self.setTimeout(self.timeOut)
            return
        super().timeoutConnection()

    def shut_down(self) -> None:
        """The server is stopping: GOAWAY, and close once the streams in
        progress are done (now if there are none)."""
        self.closing = True
        self.conn.close_connection()
        self._tryToWriteControlData()
        if not self.streams:
            self.transport.loseConnection()
