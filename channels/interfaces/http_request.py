"""One HTTP request on twisted.web: it becomes an ``http.request`` message.

The connection (:mod:`.http_protocol`) parses the request; this module
decides what it is and relays it:

* the request head is answered as soon as it is complete: WebSocket upgrades
  go to Autobahn, plain HTTP is refused without ``--accept-all``, hostile
  heads get a 4xx;
* the body streams to the worker in chunks while it arrives (``body`` +
  ``body_channel``), never whole in memory;
* ``http.response`` replies stream back, no faster than the client reads
  them (:mod:`.response_flow`); 503 on a full ``http.request`` channel, 504
  when no reply comes in time; ``http.disconnect`` when the client goes
  before its response is complete.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

from twisted.web import http

from ..exceptions import ChannelFull
from . import scope
from .backend_io.send_queue import FAIL, WAIT, SendQueue
from .response_flow import ResponseFlow

if TYPE_CHECKING:
    from .host import ConnectionHost
    from .http_protocol import ChannelHTTP

logger = logging.getLogger("channels.interfaces")

#: Most body chunks of one request waiting in the backend for the worker
#: (1 MiB with 256 KiB chunks). The request may wait for a free worker
#: while its body arrives; past this the server stops reading the client
#: (TCP back-pressure) instead of parking the whole upload in the backend,
#: where the channel's own capacity (100 messages by default) would let one
#: upload hold 25 MiB and every waiting request as much again. A lower
#: capacity configured for ``http.request.body.*`` channels still applies.
BODY_CHUNKS_AHEAD = 4

# How a request is being handled, decided once its head is complete.
HTTP, WEBSOCKET, HEALTH, REFUSED = "http", "websocket", "health", "refused"

REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    426: b"Upgrade Required",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


class ChannelRequest(http.Request):
    """One HTTP request, relayed to workers through the channel backend."""

    # Workers set Content-Type; Twisted must not invent text/html.
    defaultContentType = None
    # The body is streamed to the worker; Twisted must not parse forms.
    _parsePOSTFormSubmission = False

    #: what the server counts it as (requests are routed replies)
    kind = "http"
    mode: str | None = None
    reply_channel: str | None = None
    body_channel: str | None = None
    #: the capacity body chunks are sent with (see BODY_CHUNKS_AHEAD)
    _body_capacity: int | None = None
    message: dict | None = None
    queue: SendQueue | None = None
    flow: ResponseFlow | None = None
    #: the client as the request names it (proxy headers applied), and
    #: whether it connected with TLS
    client: scope.Address = None
    secure = False
    body_done = False
    request_sent = False
    response_started = False
    _timer = None
    declared_length: int | None = None

    def __init__(self, channel: ChannelHTTP, *args: Any, **kwargs: Any) -> None:
        super().__init__(channel, *args, **kwargs)
        self.server: ConnectionHost = channel.factory.server
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._body_total = 0
        self.status_sent = 0
        self.bytes_sent = 0

    # --- head ----------------------------------------------------------

    def gotLength(self, length: int | None) -> None:
        """Note the declared length; keep nothing but an empty file (the
        body is streamed elsewhere)."""
        self.declared_length = length
        self.content = io.BytesIO()

    def head_received(self, command: bytes, target: bytes, version: bytes) -> None:
        """Decide what to do with the request as soon as its head is complete."""
        # Set what Twisted would set only after the body, so that a response
        # can be written before the body is read (413, 400...).
        self.method, self.uri, self.clientproto = command, target, version
        self.path = target.split(b"?", 1)[0]
        options = self.server.options
        hosts = self.requestHeaders.getRawHeaders(b"host") or []
        if len(hosts) > 1 or (not hosts and version == b"HTTP/1.1"):
            # RFC 9112 3.2: exactly one Host, and HTTP/1.1 must send it.
            return self.refuse(400, "A request needs exactly one Host header.")
        try:
            path, query = scope.split_target(target)
        except UnicodeDecodeError:
            return self.refuse(400, "The request path is not valid UTF-8.")
        if version == b"HTTP/2" and _over_header_limits(self.requestHeaders, options):
            # HTTP/1.1 heads are counted line by line as they arrive (see
            # ChannelHTTP); an HTTP/2 header list arrives whole, bounded by HPACK.
            return self.refuse(431, "The request headers are too large.")
        length = self.declared_length
        if length is not None and length > options.max_body_size:
            return self.refuse(413, f"The request body is over {options.max_body_size} bytes.")
        self.client = scope.address(self.getClientAddress())
        self.secure = self.isSecure()
        if self.server.proxy is not None:
            headers = scope.header_list(self.requestHeaders.getAllRawHeaders())
            self.client, self.secure = scope.forwarded(
                self.client, self.secure, headers, self.server.proxy
            )
        if self.server.health_check.serves(path, hosts[0] if hosts else b""):
            self.mode = HEALTH
        elif version != b"HTTP/2" and _is_websocket_upgrade(self):
            self.mode = WEBSOCKET
        elif not options.accept_all:
            self.mode = REFUSED
        else:
            self.mode = HTTP
            self._start_http(path, query)

    def _start_http(self, path: str, query: bytes) -> None:
        server = self.server
        headers = scope.header_list(self.requestHeaders.getAllRawHeaders())
        client, scheme = self.client, "https" if self.secure else "http"
        self.client_for_log = client
        self.path_text = path
        self.reply_channel = server.new_reply_channel()
        server.register(self.reply_channel, self)
        self.flow = ResponseFlow(server, self.reply_channel, self._apply, self._abort_slow)
        self.registerProducer(self.flow, True)
        self.message = {
            "reply_channel": self.reply_channel,
            "http_version": self.clientproto.decode("latin-1").partition("/")[2] or "1.0",
            "method": self.method.decode("latin-1").upper(),
            "scheme": scheme,
            "path": path,
            "query_string": query,
            "root_path": server.options.root_path,
            "headers": headers,
            "body": b"",
            "client": client,
            "server": scope.address(self.getHost()),
        }
        self.queue = SendQueue(
            server,
            on_pause=self.channel.pause_reading,
            on_resume=self.channel.resume_reading,
            on_give_up=self._body_stuck,
            high_water=2 * server.options.body_chunk_size,
        )

    # --- body ----------------------------------------------------------

    def handleContentChunk(self, data: bytes) -> None:
        """Buffer a piece of body; ship it once a chunk's worth has come."""
        if self.mode != HTTP or self.finished:
            return
        self._body_total += len(data)
        if self._body_total > self.server.options.max_body_size:
            return self.refuse(413, "The request body is too large.")
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self.server.options.body_chunk_size:
            self._flush_body(final=False)

    def _flush_body(self, final: bool) -> None:
        content = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        if not self.request_sent:
            self.request_sent = True
            message = self.message
            message["body"] = content
            if not final:
                backend = self.server.backend
                self.body_channel = backend.new_channel("http.request.body")
                message["body_channel"] = self.body_channel
                self._body_capacity = min(
                    BODY_CHUNKS_AHEAD, backend.capacity_for(self.body_channel)
                )
            d = self.queue.put("http.request", message, FAIL, len(content))
            d.addCallbacks(self._request_queued, self._request_failed)
            self.message = None
        else:
            self.queue.put(
                self.body_channel,
                {"content": content, "more_content": not final},
                WAIT,
                len(content),
                self._body_capacity,
            )

    def _request_queued(self, _result: object) -> None:
        if not self.finished and not self._disconnected:
            self._arm_timer()

    def _request_failed(self, failure: Any) -> None:
        if failure.check(ChannelFull):
            self.refuse(
                503,
                "The server is busy; try again shortly.",
                {b"retry-after": str(self.server.options.retry_after).encode()},
            )
        else:
            self.refuse(503, "The channel backend could not take the request.")

    def _body_stuck(self) -> None:
        self.refuse(503, "The worker is not reading the request body.")

    def process(self) -> None:
        """The whole body has arrived (Twisted calls this after the body)."""
        if self.finished or self._disconnected:
            return
        self.body_done = True
        if self.mode == HTTP:
            self._flush_body(final=True)
        elif self.mode == HEALTH:
            self.server.health(self)
        elif self.mode == WEBSOCKET:
            self.server.upgrade_to_websocket(self)
        elif self.mode == REFUSED:
            self.refuse(
                426,
                "This server accepts WebSocket connections only "
                "(start it with --accept-all to serve HTTP).",
                {b"upgrade": b"websocket"},
            )

    # --- response ------------------------------------------------------

    def reply(self, message: dict) -> None:
        """Take one ``http.response`` message from the worker.

        It is written at once unless the client is not reading what it was
        sent; then it waits (see :mod:`.response_flow`), and the client has
        ``http_timeout`` to read on.
        """
        if self.finished or self._disconnected:
            return
        if self.flow is None or not self.flow.take(message):
            self._arm_timer()

    def _apply(self, message: dict) -> None:
        """Write one ``http.response`` message to the client."""
        if self.finished or self._disconnected:
            return
        try:
            if not self.response_started:
                self.response_started = True
                self.setResponseCode(int(message.get("status", 200)))
                for name, value in message.get("headers", []):
                    self.responseHeaders.addRawHeader(_bytes(name), _bytes(value))
            content = message.get("content", b"")
            if content:
                self.write(_bytes(content))
        except (TypeError, ValueError) as exc:
            logger.error("bad http.response on %s: %s", self.reply_channel, exc)
            if not self.startedWriting:
                self.responseHeaders = http.Headers()
                self.response_started = False
                return self.refuse(500, "The worker sent a malformed response.")
            return self._abort()
        if message.get("more_content", False):
            self._arm_timer()
        else:
            self._finish_response()

    def refuse(self, status: int, text: str, headers: dict | None = None) -> None:
        """Answer with an error of our own and, mid-body, close the connection."""
        if self.finished or self._disconnected:
            return
        if self.startedWriting:
            return self._abort()
        self.response_started = True
        self.setResponseCode(status, REASONS.get(status))
        self.responseHeaders = http.Headers()
        body = (text + "\n").encode()
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self.setHeader(b"content-length", str(len(body)).encode())
        for name, value in (headers or {}).items():
            self.setHeader(name, value)
        if not self.body_done:
            # The rest of the body will not be read: this connection ends.
            self.setHeader(b"connection", b"close")
        self.write(body)
        self._finish_response()

    def _finish_response(self) -> None:
        self._cancel_timer()
        if not self.body_done:
            self.channel.stop_reading_requests()
        self._forget()
        self.finish()

    def _abort(self, keep_held: bool = False) -> None:
        self._cancel_timer()
        self._forget(keep_held)
        self.channel.abort_request()

    def _abort_slow(self, reason: str) -> None:
        """The client reads too little of its response to keep it: drop it.

        Its reply channel stays held a while, so the worker gives up too.
        """
        logger.warning("aborting the response on %s: client not reading (%s)", self.uri, reason)
        self.server.metrics.http_aborted("slow client")
        self._abort(keep_held=True)

    def write(self, data: bytes) -> None:
        """Write and count body bytes (for the access log); the first write
        sends the head, with our ``Server`` header unless the worker set one."""
        if not self.startedWriting:
            self.status_sent = self.code
            name = self.server.options.server_name
            if name and not self.responseHeaders.hasHeader(b"server"):
                self.responseHeaders.setRawHeaders(b"server", [name.encode("latin-1")])
        self.bytes_sent += len(data)
        if self.flow is not None:
            self.flow.wrote(len(data))
        super().write(data)

    # --- timeouts and teardown -----------------------------------------

    def _arm_timer(self) -> None:
        self._cancel_timer()
        self._timer = self.server.reactor.callLater(
            self.server.options.http_timeout, self._timed_out
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if not self.startedWriting:
            self.refuse(504, "The application did not respond in time.")
        elif self.flow is not None and self.flow.held_back_within(self.server.options.http_timeout):
            # A pause that ended (the socket buffer took the rest) still counts:
            # the worker stopped because we held its reply channel meanwhile.
            self._abort_slow(f"nothing read for {self.server.options.http_timeout:g} s")
        else:
            self._abort()

    def _forget(self, keep_held: bool = False) -> None:
        if self.reply_channel is not None:
            self.server.unregister(self.reply_channel)
        if self.flow is not None:
            self.flow.close(keep_held)
            if self.producer is not None and self.channel is not None:
                self.unregisterProducer()

    def connectionLost(self, reason: Any) -> None:
        """The client went away: stop the body, tell the worker, drop later replies."""
        self._cancel_timer()
        if self.mode == HTTP and self.request_sent and not self.finished:
            if not self.body_done and self.body_channel:
                # ASGI 1.0: tell the worker the body will never be completed
                # (checked against the channel's own capacity: a small message
                # that must not wait behind the chunks' bound).
                self.queue.put(
                    self.body_channel, {"content": b"", "closed": True, "more_content": False}
                )
            # ASGI 1.0 (Channels 1.x): the response will never be delivered,
            # so a long poll can stop waiting. Dropped if nobody consumes
            # http.disconnect and its channel is full.
            self.queue.put(
                "http.disconnect",
                {"reply_channel": self.reply_channel, "path": self.path_text},
                FAIL,
            ).addErrback(lambda _failure: None)
        self._forget()
        super().connectionLost(reason)


def _is_websocket_upgrade(request: http.Request) -> bool:
    upgrade = b",".join(request.requestHeaders.getRawHeaders(b"upgrade") or [])
    return b"websocket" in upgrade.lower()


def _over_header_limits(headers: http.Headers, options: Any) -> bool:
    """Whether a header list passes ``max_headers`` fields or
    ``max_header_size`` bytes, counted as HTTP/2 counts its header list
    (name, value and 32 bytes per field)."""
    fields = [(name, value) for name, values in headers.getAllRawHeaders() for value in values]
    size = sum(len(name) + len(value) + 32 for name, value in fields)
    return len(fields) > options.max_headers or size > options.max_header_size


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("latin-1")
    raise TypeError(f"expected bytes or str, not {type(value).__name__}")
