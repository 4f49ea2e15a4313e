"""The Redis backend's receive path: non-blocking pops, blocking pops on
one server or several at once, and the batched receive of a process inbox.

Kept apart from the sending side (:mod:`channels.backends.redis`) because
it holds the only state a backend object keeps between calls: inbox
messages already popped from Redis, and counts still to take off. How it
behaves, and what it can lose, is in docs/backends-redis.rst.
"""

from __future__ import annotations

import collections
import itertools
import logging
import secrets
import threading
import time

from .blocking import MAX_BLOCK, MIN_BLOCK, READ_MARGIN, blpop_timeout, wait_on_shards
from .connection import Shard, ShardDown
from .elements import parse
from .scripts import SCRIPTS

logger = logging.getLogger("channels.backends.redis")

_POP, _ACK, _POP_BATCH = SCRIPTS["pop"], SCRIPTS["ack"], SCRIPTS["pop_batch"]
#: Messages taken from a process inbox per round trip when it is the only
#: channel received (an interface server's loop): a group message to 1,000
#: sockets of one process then costs ten round trips, not a thousand.
INBOX_BATCH = 100


def now_ms() -> int:
    """The time as the elements and scripts count it: ms since the epoch."""
    return int(time.time() * 1000)


class ReceivePath:
    """The receiving half of :class:`~channels.backends.redis.RedisChannelBackend`.

    Uses the backend's ``shards``, ``shard_for_channel``, ``keys`` (its
    :class:`~.keys.KeyLayout`) and ``_open`` (decryption); keeps the prefetch state it sets up
    in :meth:`_init_receiving`.
    """

    shards: list[Shard]

    def _init_receiving(self) -> None:
        self._rotation = itertools.count()
        # Inbox messages already popped from Redis, waiting to be returned;
        # channels whose count a BLPOP'd message has yet to come off; whether
        # the last batch pop of an inbox came back full.
        self._prefetched: dict[str, collections.deque[tuple[str, bytes]]] = {}
        self._uncount: dict[str, list[bytes]] = {}
        self._batch_full: dict[str, bool] = {}
        self._prefetch_lock = threading.Lock()

    def _forget_prefetched(self) -> None:
        """Drop every popped-but-unreturned message (``flush``)."""
        with self._prefetch_lock:
            self._prefetched.clear()
            self._uncount.clear()
            self._batch_full.clear()

    def _receive(
        self, channels: list[str], timeout: float
    ) -> tuple[str, bytes] | tuple[None, None]:
        deadline = time.monotonic() + timeout
        if len(channels) == 1 and channels[0].endswith("!"):
            return self._receive_inbox(channels[0], deadline)
        buckets = self._buckets(channels)
        # A non-blocking pop (a script) first when inboxes are involved, so
        # their counters are fixed atomically with the pop, or when several
        # servers are involved, so a waiting message is taken without threads.
        prepass = (
            timeout <= 0
            or len(buckets) > 1
            or any(name.endswith("!") for _, names in buckets for name in names)
        )
        while True:
            if prepass:
                found = self._pop_now(buckets)
                if found is not None:
                    return found
            remaining = deadline - time.monotonic()
            if remaining < MIN_BLOCK:
                return None, None
            if len(buckets) == 1:
                found = self._block_one(*buckets[0], remaining)
            else:
                found = self._block_many(buckets, remaining)
            if found is not None:
                return found

    def _receive_inbox(self, inbox: str, deadline: float) -> tuple[str, bytes] | tuple[None, None]:
        """Receive from one process inbox: up to INBOX_BATCH messages per round
        trip in a burst, and one round trip per message when they come one at
        a time.

        A message taken by BLPOP is counted off its channel in the next
        call's first round trip (a batch pop, or the commands sent ahead of
        the next BLPOP), so its channel's count stays one too high until this
        process receives again (it always does: an interface server loops on
        its inbox) or the inbox key expires.
        """
        shard = self.shard_for_channel(inbox)
        keys = [self.keys.queue(inbox), self.keys.counts(inbox)]
        while True:
            with self._prefetch_lock:
                found = self._take_prefetched(inbox)
                if found is not None:
                    return found
                will_block = deadline - time.monotonic() >= MIN_BLOCK
                look_first = self._batch_full.get(inbox, True) or not will_block
                if look_first and shard.backoff_remaining() <= 0:
                    uncount = self._uncount.get(inbox, [])
                    try:
                        elements = shard.script(_POP_BATCH, keys, [now_ms(), INBOX_BATCH, *uncount])
                    except ShardDown:
                        elements = None
                    if elements is not None:
                        self._uncount.pop(inbox, None)
                        # A short batch emptied the list: next time go
                        # straight to BLPOP, which returns at once if
                        # anything came meanwhile.
                        self._batch_full[inbox] = len(elements) == INBOX_BATCH
                        if elements:
                            self._prefetched.setdefault(inbox, collections.deque()).extend(
                                (inbox, element) for element in elements
                            )
                            continue
                uncount = self._uncount.pop(inbox, [])
            remaining = deadline - time.monotonic()
            if remaining < MIN_BLOCK:
                self._keep_uncount(inbox, uncount)
                return None, None
            element, waiting = self._blpop_inbox(shard, inbox, keys, uncount, remaining)
            if element is None:
                continue
            tag = parse(element).channel
            with self._prefetch_lock:
                if tag:
                    self._uncount.setdefault(inbox, []).append(tag)
                # More behind it: take them with a batch pop; else the next
                # call goes straight back to BLPOP.
                self._batch_full[inbox] = waiting > 0
            found = self._unpack(inbox, element)
            if found is not None:
                return found

    def _blpop_inbox(
        self, shard: Shard, inbox: str, keys: list[str], uncount: list[bytes], remaining: float
    ) -> tuple[bytes | None, int]:
        """One round trip: count off ``uncount`` (messages earlier BLPOPs
        took), BLPOP the inbox, and ask how many messages are left behind
        the one popped. Returns (element or None, messages left)."""
        wait = shard.backoff_remaining()
        if wait > 0:
            self._keep_uncount(inbox, uncount)
            time.sleep(min(wait, remaining))
            return None, 0
        block = min(remaining, MAX_BLOCK)
        commands: list[tuple] = []
        if uncount:
            # A batch pop of nothing: only its counting-off runs.
            commands.append(("EVALSHA", _POP_BATCH.sha, 2, *keys, now_ms(), 0, *uncount))
        commands += [("BLPOP", keys[0], blpop_timeout(block)), ("LLEN", keys[0])]
        try:
            replies = shard.request(commands, read_timeout=block + READ_MARGIN)
        except ShardDown:
            # Whether the counting-off ran is unknown: keep it for the next
            # pop (a count one too low for a while beats one too high).
            self._keep_uncount(inbox, uncount)
            return None, 0
        if uncount and isinstance(replies[0], Exception):
            # Nothing ran (NOSCRIPT: a restarted server). Count off now, on
            # its own, which also loads the script for the next time.
            try:
                shard.script(_POP_BATCH, keys, [now_ms(), 0, *uncount])
            except Exception:  # the server refuses scripts: try again next call
                self._keep_uncount(inbox, uncount)
        popped, left = replies[-2], replies[-1]
        if isinstance(popped, Exception):
            raise popped
        if popped is None:
            return None, 0
        return popped[1], left if isinstance(left, int) else 1

    def _keep_uncount(self, inbox: str, uncount: list[bytes]) -> None:
        """Put back counts still to take off ``inbox``'s channels."""
        if uncount:
            with self._prefetch_lock:
                self._uncount[inbox] = uncount + self._uncount.get(inbox, [])

    def _receive_batch(
        self, channels: list[str], limit: int, timeout: float
    ) -> list[tuple[str, bytes]]:
        """For one inbox: the first message as ``_receive_inbox`` takes it,
        then everything already prefetched under one lock, fetching another
        batch only when that runs out. For one plain channel: one batch pop,
        and only if it finds nothing a blocking receive and a second batch
        pop for the rest. Anything else: one receive per message."""
        if len(channels) == 1 and "!" not in channels[0]:
            return self._receive_channel_batch(channels[0], limit, timeout)
        if not (len(channels) == 1 and channels[0].endswith("!")):
            return super()._receive_batch(channels, limit, timeout)
        inbox = channels[0]
        out: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < limit:
            with self._prefetch_lock:
                while len(out) < limit:
                    found = self._take_prefetched(inbox)
                    if found is None:
                        break
                    out.append(found)
            if len(out) >= limit:
                break
            if out and not self._batch_full.get(inbox, True):
                # The last batch pop came back short: the inbox was drained
                # then, so another pop now would most likely find nothing.
                # Whatever came since waits for the next call.
                break
            channel, data = self._receive_inbox(inbox, deadline if not out else 0.0)
            if channel is None:
                break
            out.append((channel, data))
        return out

    def _receive_channel_batch(
        self, name: str, limit: int, timeout: float
    ) -> list[tuple[str, bytes]]:
        """Up to ``limit`` messages of one plain channel in one round trip
        when they are waiting (``POP_BATCH``; plain channels' elements carry
        no process-local count to take off)."""
        out = self._pop_batch(name, limit)
        if out or timeout <= 0:
            return out
        channel, data = self._receive([name], timeout)
        if channel is None:
            return []
        return [(channel, data), *(self._pop_batch(name, limit - 1) if limit > 1 else [])]

    def _pop_batch(self, name: str, limit: int) -> list[tuple[str, bytes]]:
        shard = self.shard_for_channel(name)
        if shard.backoff_remaining() > 0:
            return []  # known down: don't stall; a blocking receive waits it out
        keys = [self.keys.queue(name), self.keys.counts(name)]
        try:
            elements = shard.script(_POP_BATCH, keys, [now_ms(), limit])
        except ShardDown:
            return []
        unpacked = (self._unpack(name, element, checked=True) for element in elements)
        return [found for found in unpacked if found is not None]

    def _take_prefetched(self, inbox: str) -> tuple[str, bytes] | None:
        """The next live prefetched message of ``inbox`` (lock held)."""
        waiting = self._prefetched.get(inbox)
        while waiting:
            found = self._unpack(*waiting.popleft())
            if found is not None:
                return found
        return None

    def _buckets(self, channels: list[str]) -> list[tuple[Shard, list[str]]]:
        """``channels`` grouped by server, in order, without duplicates."""
        if self.single_server:
            return [(self.shards[0], list(dict.fromkeys(channels)))]
        by_shard: dict[Shard, list[str]] = {}
        for name in dict.fromkeys(channels):
            by_shard.setdefault(self.shard_for_channel(name), []).append(name)
        return list(by_shard.items())

    def _pop_now(self, buckets: list[tuple[Shard, list[str]]]) -> tuple[str, bytes] | None:
        start = next(self._rotation) % len(buckets)
        for shard, names in buckets[start:] + buckets[:start]:
            if shard.backoff_remaining() > 0:
                continue  # known down: don't stall a non-blocking receive
            keys = [k for name in names for k in (self.keys.queue(name), self.keys.counts(name))]
            while True:
                try:
                    reply = shard.script(_POP, keys, [now_ms()])
                except ShardDown:
                    break
                if not reply:
                    break
                index, element = reply
                found = self._unpack(names[index - 1], element)
                if found is not None:
                    return found
        return None

    def _block_one(
        self, shard: Shard, names: list[str], remaining: float
    ) -> tuple[str, bytes] | None:
        keys = [self.keys.queue(name) for name in names]
        reply = self._blpop(shard, keys, remaining)
        if reply is None:
            return None
        return self._accept(shard, names, keys, reply)

    def _blpop(self, shard: Shard, keys: list[str], remaining: float) -> list | None:
        """One BLPOP of at most MAX_BLOCK seconds; None on timeout or outage."""
        wait = shard.backoff_remaining()
        if wait > 0:
            time.sleep(min(wait, remaining))
            return None
        block = min(remaining, MAX_BLOCK)
        try:
            return shard.command(
                "BLPOP", *keys, blpop_timeout(block), read_timeout=block + READ_MARGIN
            )
        except ShardDown:
            return None

    def _block_many(
        self, buckets: list[tuple[Shard, list[str]]], remaining: float
    ) -> tuple[str, bytes] | None:
        token = secrets.token_hex(12)
        waits = [
            (shard, [self.keys.queue(name) for name in names], self.keys.wake(token, names[0]))
            for shard, names in buckets
        ]
        replies = wait_on_shards(waits, min(remaining, MAX_BLOCK))
        found = None
        for index, reply in replies:
            shard, names = buckets[index]
            if found is None:
                found = self._accept(shard, names, waits[index][1], reply)
            else:
                # Popped in the same instant as the winner: put it back at
                # the head, where the next receive finds it first.
                try:
                    shard.command("LPUSH", reply[0], reply[1])
                except ShardDown:
                    logger.warning("lost a message while returning it to %s", shard.ident)
        return found

    def _accept(
        self, shard: Shard, names: list[str], keys: list[str], reply: list
    ) -> tuple[str, bytes] | None:
        """Finish a blocking pop: count the message off its process-local
        channel, drop it if expired. None if it must not be delivered."""
        key, element = reply
        name = names[keys.index(key.decode())]
        parts = parse(element)
        if parts.channel:
            try:
                shard.script(_ACK, [self.keys.counts(name)], [parts.channel])
            except ShardDown:
                # The count stays one too high until the inbox key expires.
                logger.warning("could not count off a message on %s", shard.ident)
        if parts.expires <= now_ms():
            return None
        return self._unpack(name, element, checked=True)

    def _unpack(self, name: str, element: bytes, checked: bool = False) -> tuple[str, bytes] | None:
        parts = parse(element)
        if not checked and parts.expires <= now_ms():
            return None
        data = self._open(parts.payload)
        if data is None:
            return None
        return (parts.channel.decode() if parts.channel else name), data
