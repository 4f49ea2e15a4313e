"""The one receive loop of an interface server process.

Every reply channel of the process lives in one inbox (``prefix!``), so a
single blocking receive serves all connections. It runs in its own thread
(backend calls block) and hands messages to the reactor thread in batches:
after each blocking receive it takes whatever else is already waiting
(without blocking), so a burst costs the reactor one wake-up, not one per
message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..backends.base import BaseChannelBackend

logger = logging.getLogger("channels.interfaces")


#: Most messages handed to the reactor at once.
MAX_BATCH = 256


class InboxReader(threading.Thread):
    """Blocks on ``backend.receive_many([inbox])`` and delivers what comes.

    ``deliver([(channel, message), ...])`` is called from this thread; the
    server passes a function that uses ``reactor.callFromThread``. The blocking
    receive times out every ``BLOCK_TIMEOUT`` seconds only to notice
    :meth:`stop`; an idle server makes one cheap backend call per timeout.
    """

    def __init__(
        self,
        backend: BaseChannelBackend,
        inbox: str,
        deliver: Callable[[list[tuple[str, dict]]], None],
    ) -> None:
        super().__init__(name=f"channels-inbox-{inbox}", daemon=True)
        self.backend = backend
        self.inbox = inbox
        self.deliver = deliver
        self._stopping = threading.Event()
        #: Whether the last receive reached the backend (read by the health check).
        self.healthy = True

    def stop(self) -> None:
        """Ask the loop to end after the receive in progress returns."""
        self._stopping.set()

    def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                channel, message = self.backend.receive_many([self.inbox], block=True)
            except Exception:
                # The backend is down or restarting: say so once per attempt,
                # back off (bounded), and keep going; connections stay open.
                self.healthy = False
                logger.exception("receive from %s failed; retrying in %.1fs", self.inbox, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.healthy = True
            backoff = 0.1
            if channel is None:
                continue
            batch = [(channel, message)]
            try:
                while len(batch) < MAX_BATCH:
                    channel, message = self.backend.receive_many([self.inbox])
                    if channel is None:
                        break
                    batch.append((channel, message))
            except Exception:
                logger.warning("receive from %s failed mid-batch", self.inbox, exc_info=True)
            try:
                self.deliver(batch)
            except Exception:
                logger.exception("could not hand replies to the reactor")
