"""Calls from the inbox and sender threads to the reactor, with as few
wake-ups as possible.

Twisted's ``reactor.callFromThread`` wakes the reactor (a byte written to
its waker pipe, through a deprecated-module proxy lookup) on every call,
even when the reactor has not yet run the previous one. Under load the
reactor is the busy thread, so a hand-off usually finds the one before it
still waiting. :class:`ReactorCalls` queues the calls itself and asks the
reactor for a wake-up only when none is pending: the reactor then runs
everything queued, in order, in one turn.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("channels.interfaces")


class ReactorCalls:
    """Runs ``f(*args)`` in the reactor thread, in the order given (any thread).

    Same contract as ``reactor.callFromThread`` for positional arguments
    (what the sender thread uses, so it takes either), except that an
    exception of one call is logged here and does not stop the others.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._calls: deque[tuple[Callable[..., object], tuple]] = deque()
        self._lock = threading.Lock()
        #: a ``_run`` is asked for (or running) and will see new calls
        self._pending = False

    def callFromThread(self, f: Callable[..., object], *args: object) -> None:  # noqa: N802
        """Queue ``f(*args)``; wake the reactor unless a wake-up is pending."""
        with self._lock:
            self._calls.append((f, args))
            if self._pending:
                return
            self._pending = True
        self.reactor.callFromThread(self._run)

    def _run(self) -> None:
        """Run what is queued (reactor thread); calls queued meanwhile get
        a turn of their own, so the reactor reads its sockets in between."""
        with self._lock:
            calls, self._calls = self._calls, deque()
        for f, args in calls:
            try:
                f(*args)
            except Exception:
                logger.exception("a call handed to the reactor failed")
        with self._lock:
            if not self._calls:
                self._pending = False
                return
        self.reactor.callFromThread(self._run)
