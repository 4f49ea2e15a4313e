"""A client flooding an ``enforce_ordering`` consumer through real
``runwsserver`` and three ``runworker`` processes, beside a client that asks
and waits (scenario in ``ordering_flood.py``; speeds in
``bench/ordering_flood.py``).

Bounds asserted: the flooder holds at most CHANNELS_ORDERING_MAX_HELD (100)
messages, its ordering record (the index) stays under 16 KiB and everything
stored for ordering under 1.5 MiB (100 held 2 KiB frames: ~280 KB signed); it
is closed with 1013; the other client is answered, in order, during the
flood and after the flooder's close; the workers' RSS grows by less than
64 MiB. (How fast the other client is answered is a figure of
``bench/ordering_flood.py``, not a test's bound.)
"""

from __future__ import annotations

import pytest

from channels.ordering import DEFAULT_MAX_HELD, OVERFLOW_CLOSE_CODE

from .ordering_flood import run_flood, start

pytestmark = pytest.mark.timeout(600)

FLOOD_SECONDS = 20.0


@pytest.fixture
def flooded(tmp_path):
    stack, port = start(tmp_path, "redis")
    workers = stack.workers
    rss_before = [w.rss() // 1024 for w in workers]
    try:
        result, sizes = run_flood(port, tmp_path / "db.sqlite3", FLOOD_SECONDS)
        rss_after = [w.rss() // 1024 for w in workers]
        logs = "\n".join(p.output() for p in stack.processes)
        yield result, sizes, rss_before, rss_after, logs
    finally:
        stack.stop()


def test_a_flooding_client_is_bounded_and_closed_and_others_are_served(flooded):
    result, sizes, rss_before, rss_after, logs = flooded
    assert sizes.samples > 10, "the sampler never read the session table"
    # The flooder was held back, then closed, within the flood.
    assert sizes.held >= DEFAULT_MAX_HELD // 2, (sizes, result)
    assert sizes.held <= DEFAULT_MAX_HELD, sizes
    assert sizes.record_bytes < 16 * 1024, sizes
    assert sizes.stored_bytes < 1536 * 1024, sizes
    assert result.flood_close_code == OVERFLOW_CLOSE_CODE, (result.flood_close_code, logs[-3000:])
    assert "CHANNELS_ORDERING_MAX_HELD=100" in logs
    # The other client: every answer in order, answered while the flooder
    # was held (not starved by it) and after it was closed. How fast it was
    # answered meanwhile is measured by bench/ordering_flood.py, not here.
    assert result.other_in_order
    replies = result.other_replies
    closed = result.flood_closed_after
    assert closed is not None, result
    assert any(0 < t < closed for t in replies), (closed, replies)
    assert any(t > closed for t in replies), (closed, replies)
    # What a flood makes a worker hold is in the session store, not in memory.
    for before, after in zip(rss_before, rss_after, strict=True):
        assert after - before < 64 * 1024, (rss_before, rss_after)
    assert "Traceback" not in logs, logs[-5000:]
