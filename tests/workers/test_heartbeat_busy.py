"""The busy fraction a worker's heartbeat reports, and what tracking it holds."""

from __future__ import annotations

import time

from channels.backends.memory import InMemoryChannelBackend
from channels.workers.heartbeat import BUSY_WINDOW, WorkerHeartbeat


def test_busy_fraction_is_the_share_of_the_last_minute_in_consumers():
    heartbeat = WorkerHeartbeat(InMemoryChannelBackend(), ["test.busy"])
    heartbeat.started = time.time() - 2 * BUSY_WINDOW  # up for two minutes
    for _ in range(100):
        heartbeat.consumed(0.3)
    assert heartbeat.handled == 100
    assert abs(heartbeat.busy_fraction() - 30 / BUSY_WINDOW) < 1e-9
    heartbeat.beat_if_due()
    [record] = heartbeat.backend.heartbeats()
    assert record["busy"] == round(30 / BUSY_WINDOW, 4) and record["handled"] == 100


def test_what_it_holds_does_not_grow_with_the_message_rate():
    heartbeat = WorkerHeartbeat(InMemoryChannelBackend(), ["test.busy"])
    for _ in range(200_000):  # a minute at ~3,300 messages a second
        heartbeat.consumed(0.0001)
    assert heartbeat.handled == 200_000
    assert len(heartbeat._busy) <= BUSY_WINDOW + 2
