"""WebSocket on Autobahn: frames become ``websocket.*`` messages.

Autobahn does the framing, UTF-8 validation, fragmentation, close handshake,
ping/pong and permessage-deflate; this module maps its events onto channel
messages:

* the opening handshake waits for the consumer's ``accept``/``close`` reply
  to ``websocket.connect`` (504 after ``connect_timeout``, 503 if the channel
  is full, 403 for a foreign Origin);
* every message becomes ``websocket.receive`` with a per-connection
  ``order``; when its channel is full the socket stops being read and the
  frame is retried, up to ``full_wait`` seconds, then the socket is closed
  with 1013;
* what a socket can make the process hold is bounded, per socket and summed
  over all sockets (:mod:`.ws_bounds`, docs/security.rst);
* every way a socket ends sends ``websocket.disconnect`` with a code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import txaio
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.types import ConnectionDeny
from django.http.request import validate_host
from twisted.internet.defer import Deferred

from ..exceptions import ChannelFull
from . import scope
from .backend_io.send_queue import FAIL, WAIT, SendQueue
from .ws_bounds import TRY_AGAIN_LATER, BoundedWebSocket

if TYPE_CHECKING:
    from .host import ConnectionHost

logger = logging.getLogger("channels.interfaces")

#: A close code Autobahn's public sendClose refuses but a server must send
#: (the codes of the limits are in ws_bounds).
GOING_AWAY = 1001
#: txaio's levels at which Autobahn's per-read and per-write debug lines are logged.
_AUTOBAHN_DEBUG = ("debug", "trace")


class _LeanAutobahn:
    """Autobahn's per-read, per-write and per-message steps, without what
    only costs time here (a mixin, between the bounds and Autobahn).

    Autobahn builds a styled debug line (click's ``style`` on the function
    name and on each value) on every read and every write before its logger
    drops it, and fires a ``"message"`` observer event, with a future and
    callbacks, for every message. Nothing here observes that event, and the
    debug lines are kept when Autobahn's (txaio's) debug logging is on.
    """

    def dataReceived(self, data: bytes) -> None:
        """Bytes from the socket, straight to Autobahn's framing."""
        if txaio.get_global_log_level() in _AUTOBAHN_DEBUG:
            super().dataReceived(data)
        else:
            self._dataReceived(data)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """Write ``data``: directly in the common case (open, nothing queued
        ahead, no chopping), as Autobahn does, less its debug line."""
        if (
            sync
            or chopsize
            or self.send_queue
            or self.state != self.STATE_OPEN
            or self.logOctets
            or txaio.get_global_log_level() in _AUTOBAHN_DEBUG
        ):
            super().sendData(data, sync, chopsize)
            return
        self.transport.write(data)
        self.trafficStats.outgoingOctetsWireLevel += len(data)

    def onMessageEnd(self) -> None:
        """A message is complete: join its frames and hand it to onMessage."""
        if not self.failedByMe:
            payload = b"".join(self.message_data)
            if self.trackedTimings:
                self.trackedTimings.track("onMessage")
            self._onMessage(payload, self.message_is_binary)
        self.message_data = None


class ChannelWebSocketProtocol(BoundedWebSocket, _LeanAutobahn, WebSocketServerProtocol):
    """One WebSocket connection, relayed through the channel backend."""

    #: what the server counts it as
    kind = "websocket"
    server: ConnectionHost
    info: dict
    reply_channel: str | None = None
    queue: SendQueue | None = None
    _accept: Deferred | None = None
    _connect_timer = None
    _lifetime_timer = None
    _connect_sent = False
    _close_code: int | None = None
    order = 0

    def connectionMade(self) -> None:
        """Count the connection (its HTTP side was uncounted at hand-over)
        and have the transport say when its send buffer fills."""
        super().connectionMade()
        self.server.connection_opened(self)
        self.watch_send_buffer()

    def onConnect(self, request: Any) -> Deferred:
        """Send ``websocket.connect`` and hold the handshake for the answer."""
        server = self.server
        headers = self.info["headers"]
        origin = _header(headers, b"origin")
        if origin is not None and not server.origin_allowed(origin.decode("latin-1")):
            logger.warning("refused WebSocket from Origin %r", origin)
            server.metrics.websocket_refused(403)
            raise ConnectionDeny(403, "Origin not allowed")
        self.reply_channel = server.new_reply_channel()
        server.register(self.reply_channel, self)
        self.queue = SendQueue(
            server,
            on_pause=self._pause_reading,
            on_resume=self._resume_reading,
            on_give_up=self._channel_stuck,
            high_water=server.options.ws_inbound_buffer,
            budget=server.inbound_budget,
        )
        self.offered = list(request.protocols)
        message = {
            "reply_channel": self.reply_channel,
            "path": self.info["path"],
            "query_string": self.info["query_string"],
            "root_path": server.options.root_path,
            "headers": headers,
            "client": self.info["client"],
            "server": self.info["server"],
            "scheme": self.info["scheme"],
            "subprotocols": self.offered,
            "order": 0,
        }
        self._accept = Deferred()
        self._connect_sent = True
        self.queue.put("websocket.connect", message, FAIL).addErrback(self._connect_failed)
        if server.options.connect_timeout > 0:
            self._connect_timer = server.reactor.callLater(
                server.options.connect_timeout, self._connect_timed_out
            )
        return self._accept

    def _connect_failed(self, failure: Any) -> None:
        self._connect_sent = False
        code = 503
        reason = "Server busy" if failure.check(ChannelFull) else "Backend unavailable"
        self._deny(code, reason)

    def _connect_timed_out(self) -> None:
        self._connect_timer = None
        self._deny(504, "Application did not accept the connection in time")

    def _deny(self, code: int, reason: str) -> None:
        accept, self._accept = self._accept, None
        self._cancel_connect_timer()
        if accept is not None:
            self.server.metrics.websocket_refused(code)
            accept.errback(ConnectionDeny(code, reason))

    def _cancel_connect_timer(self) -> None:
        if self._connect_timer is not None and self._connect_timer.active():
            self._connect_timer.cancel()
        self._connect_timer = None

    # --- replies from the consumer -------------------------------------

    def reply(self, message: dict) -> None:
        """Apply one message from the consumer: accept, send, close."""
        if self._accept is not None and not self._answer_handshake(message):
            return
        if self.state != self.STATE_OPEN:
            return
        text, data = message.get("text"), message.get("bytes")
        if text is not None:
            self.sendMessage(text.encode("utf-8"), isBinary=False)
        if data is not None:
            self.sendMessage(data, isBinary=True)
        close = message.get("close")
        if close:
            code = 1000 if close is True else close
            self.close_with(code if isinstance(code, int) else 1000)

    def _answer_handshake(self, message: dict) -> bool:
        """Apply a reply to ``websocket.connect``; whether the socket opened
        (the rest of the message then applies as on any open socket).

        As Channels 1.x: ``accept`` False refuses with 403, whatever else the
        message holds; ``accept`` True, or non-empty ``text``/``bytes``, opens
        it (then sends, then closes if ``close`` says so); ``close`` alone
        refuses with 403 when True. A close *code* alone (e.g. 4001, not
        logged in) opens the socket and closes it at once with that code: a
        refused handshake would show the browser only 1006, never the code.
        Anything else leaves the handshake waiting.
        """
        accept, close = message.get("accept"), message.get("close")
        if accept is not None and not accept:
            self._deny(403, "Connection rejected")
            return False
        if not (accept or message.get("text") or message.get("bytes")):
            if close is True or (close and not isinstance(close, int)):
                self._deny(403, "Connection rejected")
                return False
            if not close:
                return False
        handshake, self._accept = self._accept, None
        self._cancel_connect_timer()
        if self.state == self.STATE_CLOSED:
            # Dropped while the consumer decided (an abort's connectionLost
            # comes a reactor turn later): completing the handshake now would
            # set Autobahn's state back to open on a dead connection, and its
            # next failure would resolve ``is_closed`` a second time.
            return False
        handshake.callback(self._choose_subprotocol(message.get("subprotocol")))
        return True

    def _choose_subprotocol(self, wanted: str | None) -> str | None:
        if wanted:
            if wanted in self.offered:
                return wanted
            logger.warning("consumer chose subprotocol %r the client did not offer", wanted)
            return None
        for name in self.server.options.subprotocols:
            if name in self.offered:
                return name
        return None

    def close_with(self, code: int, reason: str | None = None) -> None:
        """Start the closing handshake with any valid code (1001, 1013 too)."""
        if self.state not in (self.STATE_OPEN,):
            return
        if self._close_code is None:
            self._close_code = code
        self.sendCloseFrame(
            code=code, reasonUtf8=reason.encode() if reason else None, isReply=False
        )

    def shut_down(self) -> None:
        """The server is stopping: close with 1001."""
        self.close_with(GOING_AWAY, "server shutting down")

    def onOpen(self) -> None:
        """Handshake done: log it, and start the clock of --websocket-timeout."""
        self.server.log_websocket("connect", self)
        lifetime = self.server.options.websocket_timeout
        if lifetime > 0:
            self._lifetime_timer = self.server.reactor.callLater(lifetime, self._lifetime_over)

    def _lifetime_over(self) -> None:
        self._lifetime_timer = None
        self.close_with(GOING_AWAY, "connection lifetime reached")

    # --- frames from the client ------------------------------------------

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        """Queue ``websocket.receive``; the queue pauses us if it fills."""
        if not self.message_complete():
            return
        self.order += 1
        message = {
            "reply_channel": self.reply_channel,
            "path": self.info["path"],
            "order": self.order,
        }
        if isBinary:
            message["bytes"] = payload
        else:
            # Autobahn has already validated the UTF-8 (close 1007 otherwise).
            message["text"] = payload.decode("utf-8")
        self.queue.put("websocket.receive", message, WAIT, len(payload))

    def _channel_stuck(self) -> None:
        logger.warning("websocket.receive stayed full; closing %s with 1013", self.reply_channel)
        self.close_with(TRY_AGAIN_LATER, "channel full")
        # Read on, for the client's closing frame; its messages are dropped.
        self._resume_reading()

    # --- the end -----------------------------------------------------------

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        """Tell the consumer, always, and forget the reply channel."""
        self._cancel_connect_timer()
        if self._lifetime_timer is not None and self._lifetime_timer.active():
            self._lifetime_timer.cancel()
        self._lifetime_timer = None
        self._accept = None
        if self.reply_channel is not None:
            self.server.unregister(self.reply_channel)
        if self._connect_sent:
            self._connect_sent = False
            self.server.log_websocket("disconnect", self)
            self.order += 1
            if code is None or code == self.CLOSE_STATUS_CODE_ABNORMAL_CLOSE:
                code = self._close_code or self.CLOSE_STATUS_CODE_ABNORMAL_CLOSE
            self.queue.put(
                "websocket.disconnect",
                {
                    "reply_channel": self.reply_channel,
                    "code": code,
                    "path": self.info["path"],
                    "order": self.order,
                },
                WAIT,
            )

    def connectionLost(self, reason: Any) -> None:
        """Uncount the connection and its bytes after Autobahn has run onClose."""
        super().connectionLost(reason)
        self.forget_bytes()
        self.server.connection_closed(self)


class ChannelWebSocketFactory(WebSocketServerFactory):
    """Builds protocols carrying the HTTP request they were upgraded from."""

    protocol = ChannelWebSocketProtocol

    def __init__(self, server: ConnectionHost) -> None:
        # Autobahn's own ``server`` attribute is the Server header's value.
        super().__init__(server=server.options.server_name or None)
        self.interface = server
        self.pending_info: dict | None = None
        options = server.options

        def limit(size: int) -> int:
            # Deflate can grow incompressible data by a little; a message
            # within the limit must not be refused for its compressed size.
            return size + size // 64 + 1024 if options.compression and size else size

        self.setProtocolOptions(
            maxFramePayloadSize=limit(options.max_frame_size),
            maxMessagePayloadSize=limit(options.max_message_size),
            autoPingInterval=options.ping_interval,
            autoPingTimeout=options.ping_timeout,
            # The consumer's answer is what we wait for; our own timer
            # covers it, Autobahn's only needs to be later.
            openHandshakeTimeout=options.connect_timeout + 5 if options.connect_timeout > 0 else 0,
            closeHandshakeTimeout=options.close_timeout,
            # Answer protocol errors with a close frame and code (1002, 1007,
            # 1009) rather than a bare TCP drop, so clients learn why.
            failByDrop=False,
            # None leaves Autobahn's default, which declines every offer.
            perMessageCompressionAccept=_accept_deflate if options.compression else None,
        )

    def buildProtocol(self, addr: Any) -> ChannelWebSocketProtocol:
        """Attach the upgraded request's details to the new protocol."""
        proto = super().buildProtocol(addr)
        proto.server = self.interface
        proto.info = self.pending_info or {}
        return proto


#: zlib window (2^12 = 4 KiB) and memory level of the server's compressor.
#: With zlib's defaults (2^15, 8) every socket that ever sent a message holds
#: ~260 KB of compressor state; these keep it near 24 KB, at a small cost in
#: compression ratio for messages larger than a few KiB. The client's window
#: is left as the client offers it: a client that ignored a smaller
#: ``client_max_window_bits`` would send frames we could not inflate.
DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 4


def _accept_deflate(offers: list) -> PerMessageDeflateOfferAccept | None:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            # The client may cap our window (server_max_window_bits) lower still.
            window = DEFLATE_WINDOW_BITS
            if offer.request_max_window_bits:
                window = min(window, offer.request_max_window_bits)
            if window not in PerMessageDeflateOfferAccept.WINDOW_SIZE_PERMISSIBLE_VALUES:
                window = None  # (8: zlib's smallest; let Autobahn apply the request)
            try:
                return PerMessageDeflateOfferAccept(
                    offer, window_bits=window, mem_level=DEFLATE_MEM_LEVEL
                )
            except Exception:  # Autobahn raises plain Exception for odd offers
                logger.warning("using default deflate settings for offer %r", offer)
                return PerMessageDeflateOfferAccept(offer)
    return None


def _header(headers: list[list[bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def origin_allowed(origin: str, patterns: list[str]) -> bool:
    """Whether a browser ``Origin`` header names a host in ``patterns``.

    ``patterns`` use Django's ALLOWED_HOSTS syntax ("example.com",
    ".example.com" for subdomains, "*"); a pattern may also carry a scheme
    and port ("https://example.com:8443") to pin them.
    """
    if origin == "null":
        return False
    parts = urlsplit(origin)
    if not parts.scheme or not parts.hostname:
        return False
    host = parts.hostname
    hostport = parts.netloc.rsplit("@", 1)[-1].lower()
    plain = [p for p in patterns if "://" not in p]
    if validate_host(host, plain):
        return True
    full = origin.lower().rstrip("/")
    return any(
        p.lower().rstrip("/") in (full, f"{parts.scheme}://{hostport}")
        for p in patterns
        if "://" in p
    )


def connection_info(request: Any, server: ConnectionHost) -> dict:
    """The fields of ``websocket.connect`` taken from the upgrade request."""
    headers = scope.header_list(request.requestHeaders.getAllRawHeaders())
    path, query = scope.split_target(request.uri)
    client = scope.address(request.getClientAddress())
    scheme = "wss" if request.isSecure() else "ws"
    if server.options.proxy_headers:
        client, scheme = scope.apply_proxy_headers(
            client, scheme, headers, server.options.trusted_proxies
        )
    return {
        "headers": headers,
        "path": path,
        "query_string": query,
        "client": client,
        "server": scope.address(request.getHost()),
        "scheme": scheme,
    }
