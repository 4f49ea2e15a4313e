"""Consumer atomicity: messages a consumer sends go out when it returns.

Channels 1.x promised that a consumer's sends are delivered together after
the consumer finishes, so a consumer that fails half-way sends nothing. The
worker opens an :class:`Outbox` around each consumer; ``Channel.send`` and
``Group.send`` put messages in the open outbox of the current context, unless
``immediately=True`` or no outbox is open (code outside a consumer).

The open outbox is a context variable, not a thread-local: asgiref carries
context variables into the event loop thread of an ``async def`` consumer, so
its sends are deferred too, and flushed from the worker's own thread (where
the database backend may use its connection; it cannot from the loop).
Hop 6 of "The life of a WebSocket frame" in docs/architecture.rst.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from .backoff import retry_while_full
from .exceptions import ChannelFull

_current: contextvars.ContextVar[Outbox | None] = contextvars.ContextVar(
    "channels_outbox", default=None
)

#: How long a flush keeps retrying a full channel before giving up.
FULL_RETRY_SECONDS = 2.0


class Outbox:
    """Collects deferred sends of one consumer run, in the order they were made."""

    def __init__(self) -> None:
        self._pending: list[tuple[Callable[[], object], str]] = []

    def add(self, send: Callable[[], object], target: str) -> None:
        """Defer ``send`` (a zero-argument call) until :meth:`flush`."""
        self._pending.append((send, target))

    def __enter__(self) -> Outbox:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _current.reset(self._token)
        if exc_type is None:
            self.flush()
        else:
            # A consumer that failed sends nothing.
            self._pending.clear()

    def flush(self) -> None:
        """Send everything deferred, retrying a full channel briefly.

        Raises ``ChannelFull`` naming the channel if it stays full for
        ``FULL_RETRY_SECONDS``; the sends after it are not made.
        """
        pending, self._pending = self._pending, []
        for send, target in pending:
            try:
                retry_while_full(send, FULL_RETRY_SECONDS)
            except ChannelFull:
                raise ChannelFull(
                    f"{target!r} stayed full for {FULL_RETRY_SECONDS:.0f} s after the "
                    "consumer returned; its message was not sent"
                ) from None


def current_outbox() -> Outbox | None:
    """The outbox open in this context, if a consumer is running."""
    return _current.get()


def deliver(send: Callable[[], object], target: str, immediately: bool) -> None:
    """Run ``send`` now, or defer it to the open outbox."""
    outbox = None if immediately else current_outbox()
    if outbox is None:
        send()
    else:
        outbox.add(send, target)
