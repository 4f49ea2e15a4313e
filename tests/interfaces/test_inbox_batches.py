"""The inbox thread's batches (backend_io/inbox_thread.py) and the shared
hand-off queue to the reactor (backend_io/reactor_calls.py), with a real
thread and the in-memory backend; the reactor is a recording stand-in.
"""

from __future__ import annotations

import threading

from channels.backends.memory import InMemoryChannelBackend
from channels.interfaces.backend_io.inbox_thread import CHUNK, WAIT_BYTES, InboxReader
from channels.interfaces.backend_io.reactor_calls import ReactorCalls

INBOX = "interface.test!"


def read_batches(backend: InMemoryChannelBackend, count: int) -> list[tuple[list, bool]]:
    """Start a reader, collect what it delivers until ``count`` messages came."""
    delivered: list[tuple[list, bool]] = []
    got = threading.Event()

    def deliver(batch: list, wait: bool) -> None:
        delivered.append((batch, wait))
        if sum(len(b) for b, _ in delivered) >= count:
            got.set()

    reader = InboxReader(backend, INBOX, deliver)
    reader.start()
    try:
        assert got.wait(10), "the reader delivered too little"
    finally:
        reader.stop()
        reader.join(10)
    return delivered


def test_waiting_replies_come_in_one_batch_in_order():
    backend = InMemoryChannelBackend(CAPACITY=1000)
    sent = [(f"{INBOX}c{n % 3}", {"text": f"m{n}"}) for n in range(CHUNK + 8)]
    for channel, message in sent:
        backend.send(channel, message)
    delivered = read_batches(backend, len(sent))
    # Queued before the reader started: one batch of two chunks, no wait.
    assert [(len(batch), wait) for batch, wait in delivered] == [(len(sent), False)]
    assert delivered[0][0] == sent


def test_a_batch_with_wait_bytes_of_bodies_is_handed_over_and_waited_for():
    backend = InMemoryChannelBackend(CAPACITY=1000)
    body = b"x" * (WAIT_BYTES // 2 + 1)
    sent = [(f"{INBOX}r", {"content": body, "more_content": n < 2}) for n in range(3)]
    for channel, message in sent:
        backend.send(channel, message)
    delivered = read_batches(backend, len(sent))
    assert [message for batch, _ in delivered for _, message in batch] == [m for _, m in sent]
    assert delivered[0][1] is True


class RecordingReactor:
    """Counts wake-ups; runs what was handed over when the test says."""

    def __init__(self) -> None:
        self.handed: list = []

    def callFromThread(self, f, *args) -> None:  # noqa: N802
        self.handed.append((f, args))

    def run_handed(self) -> None:
        handed, self.handed = self.handed, []
        for f, args in handed:
            f(*args)


def test_hand_offs_keep_their_order_and_share_a_wake_up():
    reactor = RecordingReactor()
    calls = ReactorCalls(reactor)
    ran: list[int] = []
    for n in range(3):
        calls.callFromThread(ran.append, n)
    assert len(reactor.handed) == 1  # one wake-up for the three
    reactor.run_handed()
    assert ran == [0, 1, 2]
    calls.callFromThread(ran.append, 3)
    assert len(reactor.handed) == 1  # none pending any more: a new wake-up
    reactor.run_handed()
    assert ran == [0, 1, 2, 3]


def test_a_failing_hand_off_does_not_stop_the_others():
    reactor = RecordingReactor()
    calls = ReactorCalls(reactor)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    calls.callFromThread(fail)
    calls.callFromThread(ran.append, "after")
    reactor.run_handed()
    assert ran == ["after"]
