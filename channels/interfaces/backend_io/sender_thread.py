"""The interface server's one sender thread.

Backend calls block, so they cannot run in the reactor. Handing each message
to a thread pool costs a thread wake-up, a lock hand-off and a reactor
wake-up per message, which under load is most of the server's CPU. Instead
one long-lived thread takes everything queued since its last round and sends
it with ``backend.send_many`` (one pipelined round trip per Redis server),
then hands all the results back to the reactor at once. When idle it sleeps;
under load the queue refills while it sends, so it rarely needs waking.

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

from twisted.internet.defer import Deferred

logger = logging.getLogger("channels.interfaces")

SendEncodedMany = Callable[[Sequence[tuple[str, bytes]]], list[Exception | None]]

#: Most messages in one batch.
MAX_BATCH = 256
#: Most encoded bytes in one batch (one larger message still goes alone).
MAX_BATCH_BYTES = 1024 * 1024


class BatchSender:
    """Sends queued messages from one thread, in batches of up to
    ``max_batch`` messages and ``max_batch_bytes`` bytes.

    ``reactor`` is what the results are handed back through: anything with
    ``callFromThread`` (the server passes its
    :class:`~.reactor_calls.ReactorCalls`, which shares wake-ups with the
    inbox thread).
    """

    def __init__(
        self,
        reactor: Any,
        send_encoded_many: SendEncodedMany,
        max_batch: int = MAX_BATCH,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.reactor = reactor
        self.send_encoded_many = send_encoded_many
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self._queue: deque[tuple[str, bytes, Deferred]] = deque()
        self._cond = threading.Condition()
        self._waiting = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="channels-sender", daemon=True)

    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def send(self, channel: str, data: bytes) -> Deferred:
        """Queue an encoded message (reactor thread); the Deferred fires once
        it is sent or fails with the exception ``send`` would have raised."""
        done: Deferred = Deferred()
        with self._cond:
            self._queue.append((channel, data, done))
            # Wake the thread only if it sleeps; while it sends, it will
            # find this message on its next round anyway.
            if self._waiting:
                self._cond.notify()
        return done

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
                results = self.send_encoded_many([(channel, data) for channel, data, _ in batch])
            except Exception as exc:  # a bug, not a backend error: fail the batch
                logger.exception("sending %d messages failed", len(batch))
                results = [exc] * len(batch)
            deferreds = [done for _, _, done in batch]
            # Let the bytes go before the reactor settles (and maybe retries).
            del batch
            self.reactor.callFromThread(_settle, deferreds, results)

    def _take_batch(self) -> list[tuple[str, bytes, Deferred]]:
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


def _settle(deferreds: list[Deferred], results: list[Exception | None]) -> None:
    """Fire each Deferred with its result (reactor thread)."""
    for done, result in zip(deferreds, results, strict=True):
        if result is None:
            done.callback(None)
        else:
            done.errback(result)
