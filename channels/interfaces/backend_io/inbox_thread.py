"""The one receive loop of an interface server process.

Every reply channel of the process lives in one inbox (``prefix!``), so a
single blocking receive serves all connections. It runs in its own thread
(backend calls block) and hands messages to the reactor thread in batches:
after each blocking receive it takes whatever else is already waiting
(without blocking), so a burst costs the reactor one wake-up, not one per
message.

Because it takes every connection's replies, it cannot leave one slow HTTP
client's replies in the backend; the reactor asks the backend to *hold*
that reply channel instead (:mod:`channels.interfaces.response_flow`). Two rules keep the
replies taken before the hold lands few:

* calls queued with :meth:`InboxReader.before_next_receive` (the holds) run
  on this thread before it receives again;
* a batch carrying ``WAIT_BYTES`` or more of response bodies is handed over
  and waited for: the reactor writes it (and asks for holds where clients
  stopped reading) before this thread takes anything more. Smaller batches
  (WebSocket traffic, small responses) are handed over without waiting, so
  receiving and dispatching overlap.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from ...backends.base import BaseChannelBackend

logger = logging.getLogger("channels.interfaces")


#: Most messages handed to the reactor at once.
MAX_BATCH = 256
#: Response body bytes in a batch from which the reader waits for the
#: reactor to dispatch it (Twisted's socket buffer threshold: less than
#: that cannot fill a client's buffer by itself).
WAIT_BYTES = 64 * 1024

Batch = list[tuple[str, dict]]


class InboxReader(threading.Thread):
    """Blocks on ``backend.receive_many([inbox])`` and delivers what comes.

    ``deliver(batch, wait)`` is called from this thread; the server passes
    a function that hands the batch to the reactor and, if ``wait``, returns
    only once the reactor has dispatched it. The blocking receive times out
    every ``BLOCK_TIMEOUT`` seconds only to notice :meth:`stop`; an idle
    server makes one cheap backend call per timeout.
    """

    def __init__(
        self,
        backend: BaseChannelBackend,
        inbox: str,
        deliver: Callable[[Batch, bool], None],
    ) -> None:
        super().__init__(name=f"channels-inbox-{inbox}", daemon=True)
        self.backend = backend
        self.inbox = inbox
        self.deliver = deliver
        self._stopping = threading.Event()
        self._calls: deque[tuple[Callable[[], object], Callable[[BaseException | None], None]]]
        self._calls = deque()
        #: Whether the last receive reached the backend (read by the health check).
        self.healthy = True

    def stop(self) -> None:
        """Ask the loop to end after the receive in progress returns."""
        self._stopping.set()

    def before_next_receive(
        self, call: Callable[[], object], done: Callable[[BaseException | None], None]
    ) -> None:
        """Run ``call()`` on this thread before it next receives (any thread).

        ``done(error)`` is then called on this thread, with None on success.
        A receive already blocked runs to its end first (it returns at once
        if a message comes).
        """
        self._calls.append((call, done))

    def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            self._run_calls()
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
            body_bytes = _body_size(message)
            try:
                while len(batch) < MAX_BATCH and body_bytes < WAIT_BYTES and not self._calls:
                    channel, message = self.backend.receive_many([self.inbox])
                    if channel is None:
                        break
                    batch.append((channel, message))
                    body_bytes += _body_size(message)
            except Exception:
                logger.warning("receive from %s failed mid-batch", self.inbox, exc_info=True)
            try:
                self.deliver(batch, body_bytes >= WAIT_BYTES)
            except Exception:
                logger.exception("could not hand replies to the reactor")
        self._run_calls()

    def _run_calls(self) -> None:
        while self._calls:
            call, done = self._calls.popleft()
            try:
                call()
            except Exception as exc:
                done(exc)
            else:
                done(None)


def _body_size(message: dict) -> int:
    content = message.get("content")
    return len(content) if isinstance(content, bytes | str) else 0
