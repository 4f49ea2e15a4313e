"""One client floods an ``enforce_ordering`` consumer; how big does its
ordering state get, and how fast is another client answered meanwhile?

    python bench/ordering_flood.py [--runs 3] [--seconds 20] [--backend redis]

Starts ``tests/toolkit/bounds_project`` (one ``runwsserver``, three
``runworker``, db sessions on SQLite, the channel backend of ``--backend``)
for each run, and runs the scenario of ``tests/toolkit/ordering_flood.py``:
the other client asks and waits alone for 5 s (its baseline), then the
flooder sends 2 KiB frames as fast as the server takes them for
``--seconds`` while the other client goes on. Prints one JSON line per run
and the medians. Nothing is asserted: ``tests/toolkit/test_ordering_flood.py``
asserts the bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one_run(backend: str, seconds: float) -> dict:
    from tests.toolkit.ordering_flood import run_flood, start

    tmp = Path(tempfile.mkdtemp(prefix="ordering-flood-"))
    stack, port = start(tmp, backend)
    workers = stack.workers
    try:
        rss_before = [w.rss() // 1024 for w in workers]
        result, sizes = run_flood(port, tmp / "db.sqlite3", seconds)
        rss_after = [w.rss() // 1024 for w in workers]
    finally:
        stack.stop()
    in_window = [t for t in result.other_replies if t <= seconds]
    closed = result.flood_closed_after
    after_close = None
    if closed is not None and closed < seconds - 1:
        after_close = sum(1 for t in in_window if t > closed) / (seconds - closed)
    return {
        "held_max": sizes.held,
        "record_max_bytes": sizes.record_bytes,
        "stored_max_bytes": sizes.stored_bytes,
        "other_baseline_per_s": round(result.other_baseline_rate, 1),
        "other_during_flood_per_s": round(len(in_window) / seconds, 1),
        "other_after_close_per_s": None if after_close is None else round(after_close, 1),
        "other_in_order": result.other_in_order,
        "other_longest_gap_s": round(
            max(b - a for a, b in zip([0.0, *in_window], [*in_window, seconds], strict=True)), 1
        ),
        "flood_close_code": result.flood_close_code,
        "flood_closed_after_s": (
            None if result.flood_closed_after is None else round(result.flood_closed_after, 1)
        ),
        "flood_frames_sent": result.flood_sent,
        "flood_replies": result.flood_replies,
        "worker_rss_growth_kib_max": max(a - b for a, b in zip(rss_after, rss_before, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backend", default="redis", choices=["redis", "database"])
    args = parser.parse_args()
    os.environ.setdefault("CHANNELS_TEST_REDIS", "redis://127.0.0.1:6379/0")
    runs = []
    for _ in range(args.runs):
        runs.append(one_run(args.backend, args.seconds))
        print(json.dumps(runs[-1]), flush=True)
    medians = {
        key: statistics.median(run[key] for run in runs)
        for key, value in runs[0].items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and all(run[key] is not None for run in runs)
    }
    print(json.dumps({"median": medians}), flush=True)


if __name__ == "__main__":
    main()
