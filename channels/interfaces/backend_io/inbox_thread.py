"""The one receive loop of an interface server process.

Every reply channel of the process lives in one inbox (``prefix!``), so a
single blocking receive serves all connections. It runs in its own thread
(backend calls block) and hands messages to the reactor thread in batches:
each round takes up to ``CHUNK`` messages per backend call
(``receive_batch``: the first blocking, the rest only if already waiting,
which the Redis backend serves from what it prefetched), so a burst costs
one backend call per chunk and the reactor one wake-up, not one of each per
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

Both rules are checked between backend calls, so a batch may carry up to
``CHUNK - 1`` messages past the one that reached ``WAIT_BYTES``, and a hold
queued during a call waits for that call's end. Those messages were already
waiting in the inbox: a hold does not keep them from this thread (it makes
the worker's *next* sends to that channel fail, see
:mod:`~channels.interfaces.response_flow`), so the next round would take
them anyway. What changes is only that their count comes off their channel
a call earlier, before the hold lands: at most ``CHUNK - 1`` more sends the
worker may make meanwhile, and the per-response caps still bound what is
kept.
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
#: Most messages taken per backend call (the rules above are checked
#: between calls).
CHUNK = 32
#: Response body bytes in a batch from which the reader waits for the
#: reactor to dispatch it (Twisted's socket buffer threshold: less than
#: that cannot fill a client's buffer by itself).
WAIT_BYTES = 64 * 1024

Batch = list[tuple[str, dict]]


class InboxReader(threading.Thread):
    """Blocks on ``backend.receive_batch([inbox])`` and delivers what comes.

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
                batch = self.backend.receive_batch([self.inbox], CHUNK, block=True)
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
            if not batch:
                continue
            body_bytes = _body_size(batch)
            # A short chunk means nothing more was waiting.
            more = len(batch) == CHUNK
            try:
                while more and len(batch) < MAX_BATCH:
                    if body_bytes >= WAIT_BYTES or self._calls:
                        break
                    limit = min(CHUNK, MAX_BATCH - len(batch))
                    chunk = self.backend.receive_batch([self.inbox], limit)
                    batch += chunk
                    body_bytes += _body_size(chunk)
                    more = len(chunk) == limit
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


def _body_size(batch: Batch) -> int:
    """Bytes of HTTP response bodies in ``batch`` (WebSocket replies count 0)."""
    size = 0
    for _, message in batch:
        content = message.get("content")
        if isinstance(content, bytes | str):
            size += len(content)
    return size
