"""Process-wide byte budgets: the sum of what all WebSockets of a process hold.

Each WebSocket bounds its own bytes; a budget bounds their sum, so many
sockets, each within its own limit, cannot together exhaust the process. The
server keeps two (docs/security.rst, "WebSocket limits"): decoded messages
waiting for the backend, and bytes waiting in the send buffers of clients
that do not read. Reactor thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

logger = logging.getLogger("channels.interfaces")


class ByteBudget:
    """Bytes held by many holders against one limit.

    Holders :meth:`take` and :meth:`release` bytes. A holder that must not
    take more while the budget is :attr:`exhausted` may :meth:`wait`: once
    releases bring the total under the limit again, waiters are called back,
    oldest first, in a reactor turn of their own, until one of them uses the
    budget up again (those not called keep their place).
    """

    def __init__(self, limit: int, call_later: Callable[..., Any]) -> None:
        self.limit = limit
        self.used = 0
        self._held: dict[Hashable, int] = {}
        self._waiters: dict[Hashable, Callable[[], None]] = {}
        self._call_later = call_later
        self._wake_scheduled = False

    @property
    def exhausted(self) -> bool:
        """Whether the holders together hold the limit or more."""
        return self.used >= self.limit

    @property
    def has_waiters(self) -> bool:
        """Whether some holder waits for room."""
        return bool(self._waiters)

    def held_by(self, holder: Hashable) -> int:
        """The bytes ``holder`` holds."""
        return self._held.get(holder, 0)

    def largest_holder(self) -> Hashable | None:
        """The holder holding the most, or None."""
        return max(self._held, key=self._held.__getitem__, default=None)

    def take(self, holder: Hashable, size: int) -> None:
        """Count ``size`` more bytes held by ``holder``."""
        if size > 0:
            self._held[holder] = self._held.get(holder, 0) + size
            self.used += size

    def release(self, holder: Hashable, size: int | None = None) -> None:
        """Uncount ``size`` of ``holder``'s bytes (None: all of them)."""
        held = self._held.get(holder, 0)
        size = held if size is None else min(size, held)
        if size <= 0:
            return
        if held == size:
            del self._held[holder]
        else:
            self._held[holder] = held - size
        self.used -= size
        if self._waiters and not self.exhausted and not self._wake_scheduled:
            # Not from inside the releasing code (a send queue settling a
            # send): waiters decode frames and queue messages themselves.
            self._wake_scheduled = True
            self._call_later(0, self._wake)

    def wait(self, holder: Hashable, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the budget is no longer exhausted."""
        self._waiters.setdefault(holder, callback)

    def forget(self, holder: Hashable) -> None:
        """``holder`` is gone: release all it holds and stop waiting for it."""
        self._waiters.pop(holder, None)
        self.release(holder)

    def _wake(self) -> None:
        self._wake_scheduled = False
        # Those waiting now, once each: a waiter that waits again goes last.
        for holder in list(self._waiters):
            if self.exhausted:
                return
            callback = self._waiters.pop(holder, None)
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                logger.exception("a byte budget waiter failed")
