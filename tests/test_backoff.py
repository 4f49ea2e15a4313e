"""retry_while_full: the one wait for room in a full channel."""

import pytest

from channels.backoff import retry_while_full
from channels.exceptions import ChannelFull


class FullFor:
    """A send refused with ChannelFull ``times`` times, then accepted."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise ChannelFull(f"full ({self.left} more)")
        return "sent"


def test_returns_what_the_send_returns_once_there_is_room():
    send = FullFor(3)
    assert retry_while_full(send, timeout=5, first_delay=0.001, max_delay=0.001) == "sent"
    assert send.calls == 4


def test_a_send_that_is_never_refused_runs_once():
    send = FullFor(0)
    assert retry_while_full(send, timeout=0) == "sent"
    assert send.calls == 1


def test_gives_up_with_the_last_channel_full_once_the_time_is_spent():
    send = FullFor(10**6)
    with pytest.raises(ChannelFull) as raised:
        retry_while_full(send, timeout=0.05, first_delay=0.001, max_delay=0.002)
    # The error is the send's own, from its last try, and it was tried again.
    assert str(raised.value) == f"full ({send.left} more)"
    assert 2 <= send.calls < 10**6


def test_other_errors_are_not_retried():
    calls = []

    def send():
        calls.append(1)
        raise ValueError("bad message")

    with pytest.raises(ValueError):
        retry_while_full(send, timeout=5)
    assert len(calls) == 1
