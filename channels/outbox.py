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

A worker may take the deferred sends out instead of flushing them
(:meth:`Outbox.take_sends`), when all are plain channel sends on its own
backend, to send them in the same round trip as its next receive
(``send_and_receive``); :class:`HeldSends` finishes what that call could
not send.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

from .backoff import retry_while_full
from .exceptions import ChannelFull

_current: contextvars.ContextVar[Outbox | None] = contextvars.ContextVar(
    "channels_outbox", default=None
)

#: How long a flush keeps retrying a full channel before giving up.
FULL_RETRY_SECONDS = 2.0


class _Deferred(NamedTuple):
    send: Callable[[], object]
    target: str
    # Set for a plain ``backend.send(target, content)``, which a worker may
    # hand to ``backend.send_and_receive`` instead of calling ``send``.
    backend: Any = None
    content: dict | None = None


def _send_in_order(pending: Sequence[_Deferred]) -> None:
    for send, target, _, _ in pending:
        try:
            retry_while_full(send, FULL_RETRY_SECONDS)
        except ChannelFull:
            raise ChannelFull(
                f"{target!r} stayed full for {FULL_RETRY_SECONDS:.0f} s after the "
                "consumer returned; its message was not sent"
            ) from None


class HeldSends:
    """Deferred channel sends taken out of an outbox, all on one backend.

    ``items`` are the ``(channel, message)`` pairs, in order, as
    ``send_and_receive`` takes them.
    """

    def __init__(self, pending: list[_Deferred]) -> None:
        self._pending = pending
        self.items: list[tuple[str, dict]] = [(d.target, d.content) for d in pending]

    def send_from(self, index: int) -> None:
        """Send ``items[index:]`` as :meth:`Outbox.flush` would: in order,
        retrying a full channel for ``FULL_RETRY_SECONDS``, then raising
        ``ChannelFull`` naming it."""
        _send_in_order(self._pending[index:])


class Outbox:
    """Collects deferred sends of one consumer run, in the order they were made."""

    def __init__(self) -> None:
        self._pending: list[_Deferred] = []

    def add(self, send: Callable[[], object], target: str) -> None:
        """Defer ``send`` (a zero-argument call) until :meth:`flush`."""
        self._pending.append(_Deferred(send, target))

    def add_send(self, backend: Any, channel: str, content: dict) -> None:
        """Defer ``backend.send(channel, content)`` until :meth:`flush`."""
        self._pending.append(
            _Deferred(partial(backend.send, channel, content), channel, backend, content)
        )

    def take_sends(self, backend: Any) -> HeldSends | None:
        """Take out the deferred sends if there are some and every one is a
        plain channel send on ``backend``; otherwise leave them (None)."""
        pending = self._pending
        if not pending or any(d.backend is not backend for d in pending):
            return None
        self._pending = []
        return HeldSends(pending)

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
        _send_in_order(pending)


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


def deliver_send(backend: Any, channel: str, content: dict, immediately: bool) -> None:
    """``backend.send(channel, content)`` now, or deferred to the open outbox."""
    outbox = None if immediately else _current.get()
    if outbox is None:
        backend.send(channel, content)
    else:
        outbox.add_send(backend, channel, content)
