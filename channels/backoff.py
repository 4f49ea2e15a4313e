"""Waiting out a full channel: the one retry loop for ``ChannelFull``.

A send refused with ``ChannelFull`` is back-pressure, and some senders
should wait for room rather than fail at once: a consumer's outbox, the
view consumer streaming a response, the WSGI interface streaming a body,
and ``enforce_ordering`` taking its per-connection lock. They all wait the
same way, here: try, sleep, try again with a doubled pause (capped), and
give up with the last ``ChannelFull`` once the caller's time is spent. What
giving up means (an error naming the channel, a 504, a requeue) stays with
the caller.

The interface server's reactor never waits like this (it must not sleep):
its per-connection queue pauses reading instead (docs/architecture.rst,
"Back-pressure and limits").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .exceptions import ChannelFull

__all__ = ["retry_while_full"]

T = TypeVar("T")


def retry_while_full(
    send: Callable[[], T],
    timeout: float,
    *,
    first_delay: float = 0.005,
    max_delay: float = 0.1,
) -> T:
    """Call ``send()`` until it does not raise ``ChannelFull``; return its result.

    Between tries it sleeps ``first_delay`` seconds, doubling each time up
    to ``max_delay`` (equal values give a fixed pause). Once ``timeout``
    seconds have passed since the first try, the ``ChannelFull`` of the
    last try propagates. Any other exception propagates at once.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        try:
            return send()
        except ChannelFull:
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, max_delay)
