"""Per-connection, ordered sends from the reactor to the (blocking) backend.

Backend calls block, so they run in the server's sender thread
(:mod:`.sender_thread`); a connection's messages still reach the
backend one at a time, in order, which is what keeps ``websocket.receive``
``order`` and HTTP body chunks in sequence.

A message is encoded once, when queued, and only its bytes are kept: a send
that finds the channel full is retried with the same bytes, so a message
waiting on a full channel costs its encoded size, once.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ...exceptions import ChannelFull
from ..budget import ByteBudget

if TYPE_CHECKING:
    from ..host import ConnectionHost

logger = logging.getLogger("channels.interfaces")

#: What to do when the channel is full: ``WAIT`` retries (the connection is
#: paused meanwhile) for up to ``full_wait`` seconds; ``FAIL`` errbacks at once.
WAIT = "wait"
FAIL = "fail"


class _Item:
    __slots__ = ("channel", "data", "error", "mode", "size", "capacity", "done")

    def __init__(
        self,
        channel: str,
        data: bytes,
        error: Exception | None,
        mode: str,
        size: int,
        capacity: int | None = None,
    ):
        self.channel = channel
        #: the encoded message, or b"" with ``error`` if it could not be encoded
        self.data = data
        self.error = error
        self.mode = mode
        self.size = size
        #: the capacity to check instead of the channel's own (None: its own)
        self.capacity = capacity
        self.done: Deferred = Deferred()


class SendQueue:
    """Sends one connection's messages in order, off the reactor thread.

    ``on_pause``/``on_resume`` are called when the connection should stop or
    restart reading from its socket: while a send waits on a full channel, or
    once more than ``high_water`` bytes are queued here, until no more than
    half of it is (so that a client sending faster than the backend takes
    is not paused and resumed for every message). ``on_give_up`` is
    called (once per episode) when a ``WAIT`` send stayed full for
    ``full_wait`` seconds; its message and everything queued after it are
    dropped, with their Deferreds failed.

    With a ``budget`` (:class:`~.budget.ByteBudget`), the queued bytes also
    count against it, held by this queue, until sent or dropped.
    """

    def __init__(
        self,
        server: ConnectionHost,
        *,
        on_pause: Callable[[], None] = lambda: None,
        on_resume: Callable[[], None] = lambda: None,
        on_give_up: Callable[[], None] = lambda: None,
        high_water: int = 1024 * 1024,
        budget: ByteBudget | None = None,
    ) -> None:
        self._server = server
        self._pending: deque[_Item] = deque()
        self._busy = False
        self._bytes = 0
        self._full_since: float | None = None
        self._retries = 0
        self._retry_call = None
        self._paused = False
        self._on_pause = on_pause
        self._on_resume = on_resume
        self._on_give_up = on_give_up
        self._high_water = high_water
        self._budget = budget

    @property
    def paused(self) -> bool:
        """Whether the connection should not read now (see ``on_pause``)."""
        return self._paused

    @property
    def queued_bytes(self) -> int:
        """The sizes given to :meth:`put` of the messages not yet sent."""
        return self._bytes

    def put(
        self,
        channel: str,
        message: dict,
        mode: str = WAIT,
        size: int = 0,
        capacity: int | None = None,
    ) -> Deferred:
        """Queue ``message`` for ``channel``; the Deferred fires once it is sent.

        ``size`` is what the message counts against ``high_water`` and the
        budget (callers count payload bytes, and nothing for small control
        messages). ``capacity``, if given, is checked instead of the
        channel's own (as ``send_within``). A message the backend refuses
        to encode (too large, or not a message) fails in its turn, as a
        refused send would.
        """
        try:
            encoded = self._server.backend.encode(message)
            item = _Item(channel, encoded, None, mode, size, capacity)
        except Exception as exc:
            item = _Item(channel, b"", exc, mode, size, capacity)
        if mode == WAIT:
            # The connection hears of failures through on_give_up; don't let
            # Twisted log them again as unhandled.
            item.done.addErrback(lambda _failure: None)
        self._pending.append(item)
        self._server.active_queues.add(self)
        self._bytes += size
        if self._budget is not None:
            self._budget.take(self, size)
        self._update_pause()
        self._next()
        return item.done

    def _next(self) -> None:
        if self._busy or self._retry_call_active():
            return
        if not self._pending:
            # Nothing left: the server's shutdown waits on this set.
            self._server.active_queues.discard(self)
            return
        self._busy = True
        item = self._pending[0]
        if item.error is not None:
            self._failed(Failure(item.error), item)
            return
        self._server.sender.send(item.channel, item.data, self._settled, item.capacity)

    def _settled(self, error: Exception | None) -> None:
        """The sender's answer for the message in flight (the oldest)."""
        if error is None:
            self._sent(None)
        else:
            self._failed(Failure(error), self._pending[0])

    def _retry_call_active(self) -> bool:
        return self._retry_call is not None and self._retry_call.active()

    def _sent(self, _result: object) -> None:
        item = self._pending.popleft()
        self._uncount(item.size)
        self._busy = False
        self._full_since = None
        self._retries = 0
        self._update_pause()
        item.done.callback(True)
        self._next()

    def _failed(self, failure: Any, item: _Item) -> None:
        self._busy = False
        if failure.check(ChannelFull) and item.mode == WAIT:
            now = self._server.reactor.seconds()
            if self._full_since is None:
                self._full_since = now
            if now - self._full_since < self._server.options.full_wait:
                # Back off 10 ms doubling to 500 ms: only while a channel is
                # full, never while idle.
                delay = min(0.01 * (2**self._retries), 0.5)
                self._retries += 1
                self._update_pause()
                self._retry_call = self._server.reactor.callLater(delay, self._retry)
                return
            self._drop_all(failure)
            self._on_give_up()
            return
        self._pending.popleft()
        self._uncount(item.size)
        if not failure.check(ChannelFull):
            logger.error("could not send to %s: %s", item.channel, failure.getErrorMessage())
        self._update_pause()
        item.done.errback(failure)
        self._next()

    def _retry(self) -> None:
        self._retry_call = None
        self._next()

    def _drop_all(self, failure: Any) -> None:
        items, self._pending = self._pending, deque()
        self._uncount(self._bytes)
        self._full_since = None
        self._retries = 0
        for item in items:
            item.done.errback(failure)
        self._update_pause()

    def _uncount(self, size: int) -> None:
        self._bytes -= size
        if self._budget is not None:
            self._budget.release(self, size)

    def _update_pause(self) -> None:
        limit = self._high_water // 2 if self._paused else self._high_water
        should = self._full_since is not None or self._bytes > limit
        if should and not self._paused:
            self._paused = True
            self._on_pause()
        elif not should and self._paused:
            self._paused = False
            self._on_resume()
