"""Unit tests of one connection's send queue (backend_io/send_queue.py) with
the real sender thread and a real (in-memory) backend; only the reactor is
Twisted's test clock, whose hand-offs from the sender thread the test runs.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from twisted.internet.task import Clock

from channels.backends.memory import InMemoryChannelBackend
from channels.exceptions import ChannelFull, MessageTooLarge
from channels.interfaces.backend_io.send_queue import FAIL, WAIT, SendQueue
from channels.interfaces.backend_io.sender_thread import BatchSender
from channels.interfaces.budget import ByteBudget
from channels.interfaces.options import ServerOptions


class ThreadedClock(Clock):
    """Twisted's test clock plus ``callFromThread``: calls from the sender
    thread wait in a list until the test runs them with :meth:`run_handed`."""

    def __init__(self) -> None:
        super().__init__()
        self._handed: list = []
        self._lock = threading.Lock()

    def callFromThread(self, f, *args, **kwargs) -> None:
        with self._lock:
            self._handed.append((f, args, kwargs))

    def run_handed(self, timeout: float = 5.0) -> None:
        """Wait for at least one hand-off from the sender, then run them all.

        Runs the calls due now first: the sender is woken at the end of a
        reactor turn (``callLater(0)``).
        """
        deadline = time.monotonic() + timeout
        while True:
            self.advance(0)
            with self._lock:
                handed, self._handed = self._handed, []
            if handed:
                for f, args, kwargs in handed:
                    f(*args, **kwargs)
                return
            assert time.monotonic() < deadline, "the sender thread handed nothing back"
            time.sleep(0.005)


class CountingBackend(InMemoryChannelBackend):
    """The in-memory backend, counting how often it encodes a message."""

    encoded = 0

    def encode(self, message: dict) -> bytes:
        self.encoded += 1
        return super().encode(message)


@pytest.fixture
def server():
    clock = ThreadedClock()
    backend = CountingBackend(CAPACITY=2, MAX_MESSAGE_SIZE=4096)
    sender = BatchSender(clock, backend.send_encoded_many)
    sender.start()
    host = SimpleNamespace(
        reactor=clock,
        backend=backend,
        options=ServerOptions(full_wait=1.0),
        sender=sender,
        active_queues=set(),
    )
    yield host
    sender.stop()


def received(backend, channel: str, count: int) -> list[dict]:
    out = []
    for _ in range(count):
        got, message = backend.receive_many([channel])
        assert got == channel
        out.append(message)
    assert backend.receive_many([channel]) == (None, None)
    return out


def test_messages_reach_the_backend_in_order_and_the_queue_empties(server):
    queue = SendQueue(server)
    done = [queue.put("a.channel", {"n": n}) for n in range(2)]
    assert server.active_queues == {queue}
    server.reactor.run_handed()  # one send at a time: the first
    server.reactor.run_handed()
    assert [d.called for d in done] == [True, True]
    assert received(server.backend, "a.channel", 2) == [{"n": 0}, {"n": 1}]
    assert server.active_queues == set() and queue.queued_bytes == 0


def test_a_full_channel_pauses_and_retries_the_same_bytes_until_it_has_room(server):
    events = []
    queue = SendQueue(
        server, on_pause=lambda: events.append("pause"), on_resume=lambda: events.append("resume")
    )
    server.backend.send("full", {"x": 1})
    server.backend.send("full", {"x": 2})
    server.backend.encoded = 0
    done = queue.put("full", {"x": 3}, WAIT, size=10)
    server.reactor.run_handed()  # refused: full
    assert events == ["pause"] and queue.paused and not done.called
    for _ in range(3):  # retried after 10, 20, 40 ms (within full_wait), still full
        server.reactor.advance(0.1)
        server.reactor.run_handed()
    assert not done.called
    server.backend.receive_many(["full"])  # room for one
    server.reactor.advance(0.1)
    server.reactor.run_handed()
    assert done.called and events == ["pause", "resume"]
    assert server.backend.encoded == 1  # encoded once, however many tries
    assert received(server.backend, "full", 2) == [{"x": 2}, {"x": 3}]


def test_a_channel_full_past_full_wait_gives_up_on_everything_queued(server):
    gave_up = []
    budget = ByteBudget(1000, server.reactor.callLater)
    queue = SendQueue(server, on_give_up=lambda: gave_up.append(True), budget=budget)
    server.backend.send("full", {})
    server.backend.send("full", {})
    first = queue.put("full", {"x": 1}, WAIT, size=100)
    second = queue.put("other", {"x": 2}, WAIT, size=50)
    assert budget.used == 150
    server.reactor.run_handed()
    for _ in range(5):  # full_wait is 1 s; retries back off to 0.5 s
        server.reactor.advance(0.5)
        if gave_up:
            break
        server.reactor.run_handed()
    assert gave_up == [True]
    # Both settled (WAIT sends report through on_give_up, not their Deferreds).
    assert first.called and second.called
    assert queue.queued_bytes == 0 and budget.used == 0 and not queue.paused
    assert server.backend.receive_many(["other"]) == (None, None)


def test_fail_mode_fails_at_once_on_a_full_channel_and_the_next_message_goes(server):
    queue = SendQueue(server)
    server.backend.send("full", {})
    server.backend.send("full", {})
    refused = queue.put("full", {"x": 1}, FAIL)
    after = queue.put("other", {"x": 2}, FAIL)
    server.reactor.run_handed()
    failures = []
    refused.addErrback(failures.append)
    assert failures[0].check(ChannelFull)
    server.reactor.run_handed()
    assert after.called and received(server.backend, "other", 1) == [{"x": 2}]


def test_a_message_the_backend_cannot_encode_fails_in_its_turn(server):
    queue = SendQueue(server)
    big = queue.put("a.channel", {"x": "y" * 5000}, FAIL)
    small = queue.put("a.channel", {"x": "z"}, FAIL)
    failures = []
    big.addErrback(failures.append)
    assert failures[0].check(MessageTooLarge)  # never reached the sender
    server.reactor.run_handed()
    assert small.called and received(server.backend, "a.channel", 1) == [{"x": "z"}]


def test_more_than_high_water_queued_pauses_until_half_of_it_is_sent(server):
    events = []
    queue = SendQueue(
        server,
        on_pause=lambda: events.append("pause"),
        on_resume=lambda: events.append("resume"),
        high_water=100,
    )
    for n in range(3):
        queue.put(f"c{n}", {"n": n}, WAIT, size=40)  # 120 queued: over 100
    assert events == ["pause"]
    server.reactor.run_handed()  # 80 left: over half of high water
    assert events == ["pause"]
    server.reactor.run_handed()  # 40 left
    assert events == ["pause", "resume"]
    server.reactor.run_handed()
    assert queue.queued_bytes == 0


def test_the_sender_thread_bounds_a_batch_in_bytes_and_in_count():
    clock = ThreadedClock()
    backend = InMemoryChannelBackend(CAPACITY=100)
    batches = []

    def recorded(items):
        batches.append([len(data) for _, data, *_ in items])
        return backend.send_encoded_many(items)

    sender = BatchSender(clock, recorded, max_batch=3, max_batch_bytes=1000)
    data = [backend.encode({"x": "y" * size}) for size in (400, 400, 400, 1500, 10, 10, 10, 10)]
    results: list = []
    for d in data:  # queued before the thread starts
        sender.send("c", d, results.append)
    sender.start()
    try:
        while len(results) < len(data):
            clock.run_handed()
    finally:
        sender.stop()
    # 400+400 fit in 1000 bytes, the third would not; a message over the
    # bound goes alone; then at most 3 at a time.
    assert [len(b) for b in batches] == [2, 1, 1, 3, 1]
    assert batches[2][0] > 1000
