"""Blocking pops: one server with one ``BLPOP``, several servers at once.

Redis cannot block on keys of several servers in one call. To receive from
channels spread over shards without polling, :func:`wait_on_shards` starts
one short-lived thread per server, each in a ``BLPOP`` on that server's keys
plus a fresh wake-up key. The first message wins; the other waits are ended
by pushing a token onto their wake-up keys (unlike ``CLIENT UNBLOCK``, this
cannot race with a message arriving). A message another server handed over
in the same instant is returned too, and the caller puts it back.
"""

from __future__ import annotations

import queue
import threading
import time

from .connection import Shard, ShardDown

#: Longest single blocking pop; longer receive timeouts loop. Keeps a dead
#: (half-open) connection from hiding for longer than this.
MAX_BLOCK = 5.0
#: Extra seconds a blocking pop's reply may take beyond its block time.
READ_MARGIN = 2.0
#: BLPOP takes 0 as "forever", so never ask for less than this.
MIN_BLOCK = 0.01
#: How long a rung wake-up key lives if its waiter is gone.
WAKE_KEY_TTL_MS = 60_000


def blpop_timeout(value: float) -> str:
    """A BLPOP timeout: never 0, which would mean forever."""
    return f"{max(value, MIN_BLOCK):.3f}"


def wait_on_shards(
    waits: list[tuple[Shard, list[str], str]], timeout: float
) -> list[tuple[int, list]]:
    """``BLPOP`` on every ``(shard, keys, wake key)`` at once for up to
    ``timeout`` seconds. Each wait's wake-up key is fresh, and on a Redis
    Cluster in the slot of its keys.

    Returns ``(index in waits, [key, element])`` for every message popped,
    in ``waits`` order (usually one; more if several arrived at once), or
    ``[]`` if none came in time.
    """
    deadline = time.monotonic() + timeout
    cancel = threading.Event()
    results: queue.Queue = queue.Queue()
    threads = [
        threading.Thread(
            target=_wait_on,
            args=(index, shard, [*keys, wake], deadline, cancel, results),
            name=f"channels-redis-wait-{shard.ident}",
            daemon=True,
        )
        for index, (shard, keys, wake) in enumerate(waits)
    ]
    for thread in threads:
        thread.start()
    wake_tokens = {wake.encode() for _, _, wake in waits}
    replies: dict[int, list | None] = {}
    rung: list[tuple[Shard, str]] = []
    while len(replies) < len(threads):
        index, reply = results.get()
        replies[index] = reply
        if reply is not None and reply[0] not in wake_tokens and not cancel.is_set():
            # A message: end the other waits by ringing their wake-up keys.
            cancel.set()
            for other, (shard, _, wake) in enumerate(waits):
                if other not in replies:
                    rung.append((shard, wake))
                    try:
                        shard.request([("LPUSH", wake, b"1"), ("PEXPIRE", wake, WAKE_KEY_TTL_MS)])
                    except ShardDown:
                        pass  # that wait fails on its own and returns
    for thread in threads:
        thread.join()
    for shard, wake in rung:
        try:
            shard.command("DEL", wake)
        except ShardDown:
            pass  # it expires anyway
    return [
        (index, reply)
        for index, reply in sorted(replies.items())
        if reply is not None and reply[0] not in wake_tokens
    ]


def _wait_on(index, shard, keys, deadline, cancel, results) -> None:
    """Thread body: wait in BLPOP on one server until a message, the
    wake-up token, the deadline or cancellation."""
    reply = None
    try:
        while not cancel.is_set():
            remaining = deadline - time.monotonic()
            if remaining < MIN_BLOCK:
                break
            wait = shard.backoff_remaining()
            if wait > 0:
                cancel.wait(min(wait, remaining))
                continue
            try:
                reply = shard.request(
                    [("BLPOP", *keys, blpop_timeout(remaining))],
                    read_timeout=remaining + READ_MARGIN,
                    pooled=True,  # this thread lives for one receive only
                )[0]
            except ShardDown:
                continue
            if reply is not None:
                break
    finally:
        results.put((index, reply))
