"""Back-pressure for HTTP responses: a client that does not read holds up
the worker, not the interface server's memory.

Replies for every connection of a process come through its one inbox (see
:mod:`.inbox`), so the server cannot leave one response's messages unread
in the backend while it reads the others'. Instead, while a client's socket
buffer is full (Twisted pauses the response's producer), the response's
reply channel is *held* in the backend (the ``"hold"`` extension of
:mod:`channels.backends.base`): it counts as full, so the worker's next
``send`` meets ``ChannelFull`` and waits, and gives up after its own
timeout. Replies already on their way when the hold lands are kept here, in
order, and written once the client has read what it was sent.

What is kept is capped: ``response_buffer_size`` bytes per response (the
write that filled the socket buffer plus the replies kept since) and
``response_buffer_total`` for the whole process; past either the connection
is aborted. A response that makes no progress at all ends at
``http_timeout`` (the request's own timer). When the server aborts a
response because its client was not reading, the channel stays held for
the backend's ``EXPIRY``, so the worker keeps meeting a full channel and
gives up rather than streaming the rest to no one; when the client itself
goes, or the response completes, the hold is released at once.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.threads import deferToThreadPool

if TYPE_CHECKING:
    from .host import ConnectionHost

logger = logging.getLogger("channels.interfaces")

#: Bytes counted for a kept message besides its body (the dict and its
#: headers), so that a flood of tiny chunks is bounded too.
MESSAGE_OVERHEAD = 512


class ReplyHold:
    """Keeps one reply channel held in the backend while that is wanted.

    One call at a time per channel, so hold and release reach the backend in
    order; a change of mind while one runs is acted on when it returns. A
    hold runs on the inbox thread before it receives again (so nothing more
    is taken for this channel before the backend refuses the worker), a
    release in the blocking pool (at once: the inbox thread may be waiting
    in a blocking receive). If the backend fails, holding is given up for
    this channel; the byte caps still bound memory.
    """

    def __init__(self, server: ConnectionHost, channel: str) -> None:
        self.server = server
        self.channel = channel
        self.wanted = False
        #: messages held in the backend right now
        self.held = 0
        self._busy = False
        self._broken = False

    def want(self, wanted: bool) -> None:
        """Hold (True) or release (False) the channel, soon (reactor thread)."""
        self.wanted = wanted
        self._sync()

    def _sync(self) -> None:
        if self._busy or self._broken:
            return
        server, backend = self.server, self.server.backend
        if self.wanted and not self.held:
            # Its full capacity: whatever is waiting, the next send is refused.
            count = backend.capacity_for(self.channel)
            self._busy = True
            server.reader.before_next_receive(
                lambda: backend.hold(self.channel, count),
                lambda error: server.reactor.callFromThread(self._done, error, count),
            )
        elif not self.wanted and self.held:
            self._busy = True
            d = deferToThreadPool(
                server.reactor, server.blocking_pool, backend.release, self.channel, self.held
            )
            d.addCallbacks(lambda _: self._done(None, 0), lambda f: self._done(f.value, 0))

    def _done(self, error: BaseException | None, held: int) -> None:
        self._busy = False
        if error is not None:
            self._broken = True
            logger.warning(
                "could not hold or release reply channel %s: %s (a hold lapses by itself)",
                self.channel,
                error,
            )
            return
        self.held = held
        self._sync()


class ResponseFlow:
    """The push producer of one HTTP response (Twisted's IPushProducer).

    ``take(message)`` either hands the message to ``apply`` at once or, while
    the client is not reading, keeps it; ``abort(reason)`` is called when
    what is kept passes a cap. Reactor thread only.
    """

    def __init__(
        self,
        server: ConnectionHost,
        channel: str,
        apply: Callable[[dict], None],
        abort: Callable[[str], None],
    ) -> None:
        self.server = server
        self.apply = apply
        self.abort = abort
        self.paused = False
        self.closed = False
        self.backlog: deque[tuple[dict, int]] = deque()
        self.hold = ReplyHold(server, channel) if "hold" in server.backend.extensions else None
        #: bytes kept: the write that filled the socket buffer, and the backlog
        self._in_transport = 0
        self._in_backlog = 0
        self._last_write = 0

    @property
    def kept(self) -> int:
        """Bytes of this response held in memory for a client not reading."""
        return self._in_transport + self._in_backlog

    def take(self, message: dict) -> bool:
        """Apply ``message`` now, or keep it for later; True if applied."""
        if self.closed or (not self.paused and not self.backlog):
            self.apply(message)
            return True
        size = len(message.get("content") or b"") + MESSAGE_OVERHEAD
        self.backlog.append((message, size))
        self._in_backlog += size
        self._count(size)
        return False

    def wrote(self, size: int) -> None:
        """The response is about to write ``size`` bytes to the transport."""
        self._last_write = size

    def pauseProducing(self) -> None:
        """The socket buffer is full: keep replies, and hold the channel."""
        if self.closed or self.paused:
            return
        self.paused = True
        # That write stays in memory until the client reads it.
        self._in_transport = self._last_write
        self._count(self._last_write)
        if self.hold is not None and not self.closed:
            self.hold.want(True)

    def resumeProducing(self) -> None:
        """The socket buffer is empty: write what was kept, then release."""
        if self.closed:
            return
        self.paused = False
        self._count(-self._in_transport)
        self._in_transport = 0
        while self.backlog and not self.paused and not self.closed:
            message, size = self.backlog.popleft()
            self._in_backlog -= size
            self._count(-size)
            self.apply(message)  # may pause again, finish or abort
        if not self.paused and not self.backlog and self.hold is not None:
            self.hold.want(False)

    def stopProducing(self) -> None:
        """The connection is going away (the request cleans up)."""

    def close(self, keep_held: bool = False) -> None:
        """The response is over: forget what was kept and release the channel
        (with ``keep_held``, only once the backend's expiry has passed)."""
        if self.closed:
            return
        self.closed = True
        self.server.held_response_bytes -= self.kept
        self._in_transport = self._in_backlog = 0
        self.backlog.clear()
        if self.hold is None:
            return
        if keep_held:
            self.hold.want(True)
            self.server.reactor.callLater(self.server.backend.expiry, self.hold.want, False)
        else:
            self.hold.want(False)

    def _count(self, change: int) -> None:
        server = self.server
        server.held_response_bytes += change
        if change <= 0 or self.closed:
            return
        options = server.options
        if self.kept > options.response_buffer_size:
            self.abort(f"{self.kept} bytes held, over --response-buffer-size")
        elif server.held_response_bytes > options.response_buffer_total:
            self.abort(
                f"{server.held_response_bytes} bytes held by the process, "
                "over --response-buffer-total"
            )
