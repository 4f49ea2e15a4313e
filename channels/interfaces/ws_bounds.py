"""What one WebSocket may make the interface server hold, and the sum over all.

Mixed into :class:`~.ws_protocol.ChannelWebSocketProtocol`; the limits and
their defaults are in :class:`~.options.ServerOptions` and docs/security.rst.

Inbound: a socket's decoded messages wait in its
:class:`~.backend_io.send_queue.SendQueue` until the backend takes them. Pausing the
transport only stops the *next* read, and Autobahn turns every frame of the
current read into a message (60 compressed frames of 1 KiB each are 60 MiB),
so decoding itself stops: past ``ws_inbound_buffer`` queued bytes, or while
the process's ``ws_inbound_total`` is used up, the rest of the read stays raw
in Autobahn's ``self.data`` (one read at most) and the transport is paused;
both resume once the bytes drain. Control frames still go through, so a held
socket answers pings and can close. A message larger than
``max_message_size`` once decompressed is refused with 1009.

Outbound: the transport's send buffer is watched (a registered producer);
once it is full, what is written after counts against ``ws_outbound_buffer``
(past it: close 1008, dropped if the client does not read the close frame
within ``close_timeout``) and ``ws_outbound_total`` (past it: the socket
holding the most is dropped at once).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

if TYPE_CHECKING:
    from .backend_io.send_queue import SendQueue
    from .host import ConnectionHost

logger = logging.getLogger("channels.interfaces")

#: Close codes sent when a bound is reached (Autobahn's public sendClose
#: refuses them, though a server must send them).
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013


class BoundedWebSocket:
    """Memory bounds for an Autobahn server protocol (a mixin, listed first).

    The protocol provides ``server``, ``queue`` (set once the handshake
    starts), ``reply_channel``, ``close_with(code, reason)`` and
    ``_close_code`` (the code ``websocket.disconnect`` reports when the
    connection drops); it calls :meth:`watch_send_buffer` once connected,
    :meth:`message_complete` at the start of ``onMessage`` (which must drop
    the message when it returns False) and :meth:`forget_bytes` when the
    connection is lost.
    """

    server: ConnectionHost
    queue: SendQueue | None
    reply_channel: str | None
    _close_code: int | None
    #: the transport is paused (no reads)
    _paused = False
    #: waiting for the process's inbound budget to have room again
    _waiting_for_budget = False
    #: the hold for ws_inbound_buffer is logged (once per connection: a
    #: client that keeps sending faster than workers take would repeat it)
    _said_held = False
    #: decoded bytes of the message being received (counted in the budget)
    _assembling = 0
    #: the transport's send buffer is full (it paused our _SendBufferWatch)
    _send_buffer_full = False
    #: bytes written since then (counted in the outbound budget)
    _unsent = 0
    #: closed for ws_outbound_buffer
    _too_slow = False

    def watch_send_buffer(self) -> None:
        """Have the transport say when its send buffer fills and drains."""
        # The HTTP channel unregistered itself as producer at hand-over.
        self.transport.registerProducer(_SendBufferWatch(self), True)

    def forget_bytes(self) -> None:
        """The connection is gone: uncount what it held (its queue's bytes
        stay counted until they are sent or dropped)."""
        self.server.inbound_budget.forget(self)
        self.server.outbound_budget.forget(self)

    # --- inbound -----------------------------------------------------------

    def processData(self) -> bool:
        """Decode the next part of ``self.data``, unless this socket must wait.

        Autobahn calls this in a loop until the bytes of the last read are
        used up; returning False leaves the rest undecoded, for
        :meth:`_resume_reading` to pick up.
        """
        if self.state == self.STATE_OPEN and self._must_wait():
            return False
        return super().processData()

    def _must_wait(self) -> bool:
        """Whether decoding must stop here, for this socket's queue or the
        process's inbound budget (then it waits for room)."""
        frame = self.current_frame
        if frame is None:
            # Control frames (ping, pong, close: small, never compressed) go
            # through, so a held socket still answers pings and can close.
            if self.data and (self.data[0] & 0x0F) >= 8:
                return False
        elif frame.opcode >= 8:
            return False
        if self.queue.paused:
            limit = self.server.options.ws_inbound_buffer
            if not self._said_held and self.queue.queued_bytes > limit:
                self._said_held = True
                logger.warning(
                    "WebSocket %s has %d bytes of messages waiting for the backend "
                    "(--ws-inbound-buffer %d); its frames wait undecoded until they drain",
                    self.reply_channel,
                    self.queue.queued_bytes,
                    limit,
                )
            self._pause_reading()  # the queue resumes us once it drains
            return True
        budget = self.server.inbound_budget
        if not budget.exhausted:
            return False
        if self.inside_message:
            # Its message can only complete by taking more; were every socket
            # holding part of one, nothing would ever drain.
            logger.warning(
                "WebSocket messages waiting and being received hold %d bytes "
                "(--ws-inbound-total %d); closing %s, mid-message, with 1013",
                budget.used,
                budget.limit,
                self.reply_channel,
            )
            self.server.metrics.websocket_limit_closed("inbound_total")
            self._fail(TRY_AGAIN_LATER, "server busy")
            return True
        if not self._waiting_for_budget:
            if not budget.has_waiters:
                logger.warning(
                    "WebSocket messages waiting for the backend hold %d bytes "
                    "(--ws-inbound-total %d); sockets wait undecoded until they drain",
                    budget.used,
                    budget.limit,
                )
            self._waiting_for_budget = True
            budget.wait(self, self._budget_has_room)
        self._pause_reading()
        return True

    def _budget_has_room(self) -> None:
        self._waiting_for_budget = False
        self._resume_reading(at_once=True)

    def onMessageFrameData(self, payload: bytes) -> None:
        """Count decoded bytes as they come; past ``max_message_size``, 1009.

        Autobahn bounds inflation too, but with the slack the factory adds
        for compressed sizes; this bound is exact.
        """
        super().onMessageFrameData(payload)
        if self.state != self.STATE_OPEN or not payload:
            return
        self._assembling += len(payload)
        self.server.inbound_budget.take(self, len(payload))
        limit = self.server.options.max_message_size
        if self._assembling > limit:
            self.server.metrics.websocket_limit_closed("message_size")
            self._fail(MESSAGE_TOO_BIG, f"message larger than {limit} bytes once decompressed")

    def message_complete(self) -> bool:
        """A message is decoded: from now on its queue counts it, not the
        socket. Whether it is to be sent (not after we sent a close)."""
        self._assembling = 0
        self.server.inbound_budget.release(self)
        return self.state == self.STATE_OPEN

    def _fail(self, code: int, reason: str) -> None:
        """Close with ``code`` and drop the rest of what the client sends.

        Autobahn's own way to fail a connection (as for a protocol error): it
        sends the close frame and stops assembling messages.
        """
        if self._close_code is None:
            self._close_code = code
        self._fail_connection(code, reason)

    def _pause_reading(self) -> None:
        if self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pauseProducing()

    def _resume_reading(self, at_once: bool = False) -> None:
        """Read again and decode what was held, unless something still holds us.

        The queue calls this from inside its own bookkeeping, so the held
        bytes are decoded in a reactor turn of their own, unless ``at_once``.
        """
        if self.transport is None or self._waiting_for_budget or self.queue.paused:
            return
        if self._paused:
            self._paused = False
            self.transport.resumeProducing()
        if self.data:
            if at_once:
                self._decode_held()
            else:
                self.server.reactor.callLater(0, self._decode_held)

    def _decode_held(self) -> None:
        if self.transport is not None and self.state in (self.STATE_OPEN, self.STATE_CLOSING):
            self.consumeData()

    # --- outbound ----------------------------------------------------------

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """Write ``data``; once the send buffer is full, count what piles up.

        The write that fills the buffer is not counted (one message may
        always be sent, however large); what follows it is, until the buffer
        drains.
        """
        full = self._send_buffer_full
        super().sendData(data, sync, chopsize)
        if full and self.transport is not None:
            self._unsent += len(data)
            self.server.outbound_budget.take(self, len(data))
            self._check_unsent()

    def _check_unsent(self) -> None:
        options = self.server.options
        if self._unsent > options.ws_outbound_buffer and not self._too_slow:
            # (Sending the close frame comes back here.)
            self._too_slow = True
            logger.warning(
                "WebSocket %s is not reading: %d bytes wait to be sent "
                "(--ws-outbound-buffer %d); closing it with 1008",
                self.reply_channel,
                self._unsent,
                options.ws_outbound_buffer,
            )
            self.server.metrics.websocket_limit_closed("outbound_buffer")
            # It has close_timeout to read up to the close frame, then is dropped.
            if self.state == self.STATE_OPEN:
                self.close_with(POLICY_VIOLATION, "client not reading")
        budget = self.server.outbound_budget
        while budget.used > budget.limit:
            largest = budget.largest_holder()
            logger.warning(
                "WebSocket send buffers hold %d bytes (--ws-outbound-total %d); "
                "dropping %s, which holds %d",
                budget.used,
                budget.limit,
                largest.reply_channel,
                budget.held_by(largest),
            )
            self.server.metrics.websocket_limit_closed("outbound_total")
            largest.drop(TRY_AGAIN_LATER)

    def drop(self, code: int) -> None:
        """Abort the TCP connection now; the consumer hears ``code``."""
        if self._close_code is None:
            self._close_code = code
        self.server.outbound_budget.release(self)
        self._unsent = 0
        self.dropConnection(abort=True)

    def send_buffer_filled(self) -> None:
        """The transport's send buffer is over its size: count what follows."""
        self._send_buffer_full = True

    def send_buffer_drained(self) -> None:
        """The transport has written everything: nothing waits any more."""
        self._send_buffer_full = False
        self._unsent = 0
        self.server.outbound_budget.release(self)


@implementer(IPushProducer)
class _SendBufferWatch:
    """Registered with a WebSocket's transport as its producer, so Twisted
    says when the send buffer fills (over 64 KiB) and when it is empty again.
    """

    def __init__(self, proto: BoundedWebSocket) -> None:
        self.proto = proto

    def pauseProducing(self) -> None:
        self.proto.send_buffer_filled()

    def resumeProducing(self) -> None:
        self.proto.send_buffer_drained()

    def stopProducing(self) -> None:
        """The connection is gone; connectionLost does the accounting."""
