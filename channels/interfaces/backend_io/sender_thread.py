"""The interface server's one sender thread.

Backend calls block, so they cannot run in the reactor. Handing each message
to a thread pool costs a thread wake-up, a lock hand-off and a reactor
wake-up per message, which under load is most of the server's CPU. Instead
one long-lived thread takes everything queued since its last round and sends
it with ``backend.send_many`` (one pipelined round trip per Redis server),
then hands all the results back to the reactor at once. When idle it sleeps;
under load the queue refills while it sends, so it rarely needs waking.
When it must be woken, it is woken once the reactor has handled the reads
of its current turn (``callLater(0)``), not at the first message: waking a
thread costs a context switch (every server thread shares one core in a
pinned deployment), and the messages of all the sockets read in that turn
then go in one batch.

Messages come already encoded (each connection's queue encodes a message
once and retries the bytes), and a batch is bounded in bytes as well as in
count: sending copies a batch (the Redis backend frames each message, the
client packs the command), so a batch of many large messages would cost
several times its size at once.

Order is kept: messages go out in the order they were queued (and each
connection's :class:`~.send_queue.SendQueue` sends its own
messages one at a time anyway).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger("channels.interfaces")

SendEncodedMany = Callable[[Sequence[tuple[str, bytes, int | None]]], list[Exception | None]]
#: Called in the reactor thread with None once a message is sent, or with
#: the exception ``send`` would have raised.
OnSent = Callable[[Exception | None], None]

#: Most messages in one batch.
MAX_BATCH = 256
#: Most encoded bytes in one batch (one larger message still goes alone).
MAX_BATCH_BYTES = 1024 * 1024


class BatchSender:
    """Sends queued messages from one thread, in batches of up to
    ``max_batch`` messages and ``max_batch_bytes`` bytes.

    Results go back to the reactor through ``hand_back`` (default
    ``reactor.callFromThread``; the server passes its
    :class:`~.reactor_calls.ReactorCalls`, which shares wake-ups with the
    inbox thread).
    """

    def __init__(
        self,
        reactor: Any,
        send_encoded_many: SendEncodedMany,
        max_batch: int = MAX_BATCH,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        hand_back: Callable[..., None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.hand_back = hand_back or reactor.callFromThread
        self.send_encoded_many = send_encoded_many
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self._queue: deque[tuple[str, bytes, int | None, OnSent]] = deque()
        self._cond = threading.Condition()
        self._waiting = False
        #: a wake-up is scheduled for the end of the reactor's turn
        self._wake_pending = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="channels-sender", daemon=True)

    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def send(self, channel: str, data: bytes, on_sent: OnSent, capacity: int | None = None) -> None:
        """Queue an encoded message (reactor thread); ``on_sent(error)`` is
        called in the reactor thread once it is sent (error None) or failed.
        ``capacity``: the one to check instead of the channel's own (see
        ``send_encoded_many``).

        A plain callback, not a Deferred: this is once per message, and the
        caller (a connection's send queue) needs no callback chain."""
        with self._cond:
            self._queue.append((channel, data, capacity, on_sent))
            # Wake the thread only if it sleeps (while it sends, it will
            # find this message on its next round anyway), and once per
            # reactor turn.
            wake = self._waiting and not self._wake_pending
            if wake:
                self._wake_pending = True
        if wake:
            self.reactor.callLater(0, self._wake)

    def _wake(self) -> None:
        """Wake the thread for what was queued this turn (reactor thread)."""
        with self._cond:
            self._wake_pending = False
            self._cond.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued, then end the thread (blocks up to ``timeout``)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._waiting = True
                    self._cond.wait()
                    self._waiting = False
                if not self._queue:
                    return
                batch = self._take_batch()
            try:
                results = self.send_encoded_many([item[:3] for item in batch])
            except Exception as exc:  # a bug, not a backend error: fail the batch
                logger.exception("sending %d messages failed", len(batch))
                results = [exc] * len(batch)
            callbacks = [on_sent for *_, on_sent in batch]
            # Let the bytes go before the reactor settles (and maybe retries).
            del batch
            self.hand_back(_settle, callbacks, results)

    def _take_batch(self) -> list[tuple[str, bytes, int | None, OnSent]]:
        """The oldest queued messages, within both bounds (lock held)."""
        batch = [self._queue.popleft()]
        size = len(batch[0][1])
        queue = self._queue
        while queue and len(batch) < self.max_batch:
            if size + len(queue[0][1]) > self.max_batch_bytes:
                break
            item = queue.popleft()
            size += len(item[1])
            batch.append(item)
        return batch


def _settle(callbacks: list[OnSent], results: list[Exception | None]) -> None:
    """Tell each sender how its message went (reactor thread)."""
    for on_sent, result in zip(callbacks, results, strict=True):
        try:
            on_sent(result)
        except Exception:
            # One connection's failure must not cost the others their results.
            logger.exception("handling the result of a send failed")
