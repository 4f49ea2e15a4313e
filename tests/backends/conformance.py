"""The conformance suite every channel backend must pass.

Subclass :class:`BackendConformance` in a test module and implement
``make_backend(**options)`` (a fresh backend with the given options) and,
for backends shared between processes, ``process_spec(**options)`` (the
Django settings and backend entry a child process builds it from)::

    class TestMyBackend(BackendConformance):
        def make_backend(self, **options):
            return MyBackend("default", **options)
"""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from channels.exceptions import ChannelFull, InvalidChannelName, InvalidMessage, MessageTooLarge

from .child import receive_until_quiet, take_until_quiet
from .conformance_capacity import CapacityConformance


class BackendConformance(CapacityConformance):
    """One promise of the backend contract per test (the capacity ones in
    :class:`~.conformance_capacity.CapacityConformance`)."""

    #: False for backends that live inside one process (memory).
    cross_process = True

    def make_backend(self, **options):
        raise NotImplementedError

    def process_spec(self, **options) -> dict:
        raise NotImplementedError

    @pytest.fixture
    def backend(self):
        made = []

        def factory(**options):
            made.append(self.make_backend(**options))
            made[-1].flush()
            return made[-1]

        self._factory = factory
        yield factory()
        for b in made:
            b.flush()
            b.close()

    def other(self, **options):
        """A second backend object on the same store, with other options."""
        return self._factory(**options)

    # --- basics -------------------------------------------------------------

    def test_send_then_receive(self, backend):
        backend.send("conf.basic", {"value": "hello", "n": 1})
        channel, message = backend.receive_many(["conf.basic"])
        assert channel == "conf.basic"
        assert message == {"value": "hello", "n": 1}
        assert backend.receive_many(["conf.basic"]) == (None, None)

    def test_unicode_bytes_and_nested_values_round_trip(self, backend):
        content = {
            "text": "zaĳ€ 🚀 \u0000 end",
            "bytes": bytes(range(256)),
            "empty": b"",
            "int": -(2**62),
            "float": 1.5,
            "flags": [True, False, None],
            "nested": {"list": [1, "two", b"three", {"k": [3.25]}]},
        }
        backend.send("conf.types", content)
        _, message = backend.receive_many(["conf.types"])
        assert message == content
        assert isinstance(message["bytes"], bytes)
        assert isinstance(message["text"], str)

    def test_fifo_per_channel(self, backend):
        for n in range(60):
            backend.send("conf.fifo", {"n": n})
        got = [backend.receive_many(["conf.fifo"])[1]["n"] for _ in range(60)]
        assert got == list(range(60))

    def test_send_many_keeps_order_and_reports_each_item(self, backend):
        small = self.other(CAPACITY=2)
        reply = small.new_channel("conf.many!")
        results = small.send_many([
            ("conf.many.a", {"n": 1}),
            (reply, {"n": 2}),
            ("bad name", {"n": 3}),
            ("conf.many.a", {"n": 4}),
            ("conf.many.a", {"n": 5}),  # over capacity 2
            ("conf.many.b", {"bad": object()}),
            (reply, {"n": 6}),
        ])  # fmt: skip
        assert [type(r).__name__ if r else None for r in results] == [
            None, None, "InvalidChannelName", None, "ChannelFull", "InvalidMessage", None,
        ]  # fmt: skip
        assert [small.receive_many(["conf.many.a"])[1]["n"] for _ in range(2)] == [1, 4]
        assert small.receive_many(["conf.many!"]) == (reply, {"n": 2})
        assert small.receive_many(["conf.many!"]) == (reply, {"n": 6})
        assert small.receive_many(["conf.many.b"]) == (None, None)
        assert small.send_many([]) == []

    def test_receive_many_serves_several_channels(self, backend):
        backend.send("conf.a", {"n": 1})
        backend.send("conf.b", {"n": 2})
        got = {backend.receive_many(["conf.a", "conf.b"])[0] for _ in range(2)}
        assert got == {"conf.a", "conf.b"}
        assert backend.receive_many(["conf.a", "conf.b"]) == (None, None)

    def test_nonblocking_receive_returns_waiting_message(self, backend):
        # (How fast is bench/layer_bench.py's "nonblocking receive" figure.)
        backend.send("conf.nb", {"n": 7})
        assert backend.receive_many(["conf.nb"], block=False) == ("conf.nb", {"n": 7})
        assert backend.receive_many(["conf.nb"], block=False) == (None, None)

    def test_blocking_receive_wakes_when_a_message_arrives(self, backend):
        sender = self.other()

        def send_later():
            time.sleep(0.3)
            sender.send("conf.block", {"n": 1})

        thread = threading.Thread(target=send_later)
        thread.start()
        channel, message = backend.receive_many(["conf.block"], block=True, timeout=10)
        thread.join()
        assert (channel, message) == ("conf.block", {"n": 1})

    def test_blocking_receive_gives_up_after_timeout(self, backend):
        started = time.monotonic()
        assert backend.receive_many(["conf.empty"], block=True, timeout=0.5) == (None, None)
        assert time.monotonic() - started >= 0.45

    def test_threads_sending_concurrently_lose_nothing(self, backend):
        big = self.other(CAPACITY=1000)

        def send_batch(start):
            for n in range(start, start + 40):
                big.send("conf.threads", {"n": n})

        threads = [threading.Thread(target=send_batch, args=(s,)) for s in (0, 40, 80)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = []
        while True:
            channel, message = big.receive_many(["conf.threads"])
            if channel is None:
                break
            got.append(message["n"])
        assert sorted(got) == list(range(120))

    # --- a worker's turn: send_and_receive --------------------------------

    def test_send_and_receive_sends_in_order_then_receives(self, backend):
        reply = backend.new_channel("conf.turn!")
        backend.send("conf.turn.in", {"n": 0})
        turn = backend.send_and_receive(
            [("conf.turn.out", {"n": 1}), (reply, {"n": 2}), ("conf.turn.out", {"n": 3})],
            ["conf.turn.in"],
        )
        assert (turn.sent, turn.error) == (3, None)
        assert (turn.channel, turn.message) == ("conf.turn.in", {"n": 0})
        assert [backend.receive_many(["conf.turn.out"])[1]["n"] for _ in range(2)] == [1, 3]
        assert backend.receive_many(["conf.turn!"]) == (reply, {"n": 2})
        # Nothing waiting and not blocking: everything sent, nothing received.
        turn = backend.send_and_receive([("conf.turn.out", {"n": 4})], ["conf.turn.in"])
        assert (turn.sent, turn.error, turn.channel, turn.message) == (1, None, None, None)
        assert backend.receive_many(["conf.turn.out"])[1] == {"n": 4}
        # No sends, or no channels: just the other half.
        backend.send("conf.turn.in", {"n": 5})
        assert backend.send_and_receive([], ["conf.turn.in"]).message == {"n": 5}
        assert backend.send_and_receive([("conf.turn.out", {"n": 6})], []).sent == 1
        assert backend.receive_many(["conf.turn.out"])[1] == {"n": 6}

    def test_send_and_receive_stops_at_the_first_full_channel(self, backend):
        small = self.other(CAPACITY=2)
        small.send("conf.turn.full", {"n": 0})
        small.send("conf.turn.full", {"n": 1})
        small.send("conf.turn.next", {"n": 9})
        turn = small.send_and_receive(
            [("conf.turn.ok", {"n": 1}), ("conf.turn.full", {"n": 2}), ("conf.turn.ok", {"n": 3})],
            ["conf.turn.next"],
            block=True,
            timeout=5,
        )
        assert turn.sent == 1
        assert isinstance(turn.error, ChannelFull) and "conf.turn.full" in str(turn.error)
        # Nothing received, nothing sent after the full channel: the next
        # message still waits, and the channel saw no later message first.
        assert (turn.channel, turn.message) == (None, None)
        assert small.receive_many(["conf.turn.ok"])[1] == {"n": 1}
        assert small.receive_many(["conf.turn.ok"]) == (None, None)
        assert small.receive_many(["conf.turn.next"])[1] == {"n": 9}

    def test_send_and_receive_refuses_a_bad_item_and_sends_what_came_before(self, backend):
        for bad, error in [
            (("bad name", {"n": 2}), InvalidChannelName),
            (("conf.turn.bad", {"n": object()}), InvalidMessage),
        ]:
            backend.send("conf.turn.wait", {"n": 0})
            turn = backend.send_and_receive(
                [("conf.turn.good", {"n": 1}), bad, ("conf.turn.good", {"n": 3})],
                ["conf.turn.wait"],
            )
            assert turn.sent == 1 and isinstance(turn.error, error)
            assert turn.channel is None
            assert backend.receive_many(["conf.turn.good"])[1] == {"n": 1}
            assert backend.receive_many(["conf.turn.good"]) == (None, None)
            assert backend.receive_many(["conf.turn.wait"])[1] == {"n": 0}
        with pytest.raises(InvalidChannelName):
            backend.send_and_receive([], ["bad name"])

    def test_send_and_receive_blocks_until_a_message_or_the_timeout(self, backend):
        sender = self.other()
        later = threading.Timer(0.3, sender.send, args=("conf.turn.late", {"n": 1}))
        later.start()
        turn = backend.send_and_receive(
            [("conf.turn.early", {"n": 0})], ["conf.turn.late"], block=True, timeout=10
        )
        later.join()
        assert (turn.sent, turn.channel, turn.message) == (1, "conf.turn.late", {"n": 1})
        assert backend.receive_many(["conf.turn.early"])[1] == {"n": 0}
        started = time.monotonic()
        turn = backend.send_and_receive([], ["conf.turn.late"], block=True, timeout=0.5)
        assert (turn.sent, turn.channel) == (0, None)
        assert time.monotonic() - started >= 0.45

    def test_send_and_receive_on_an_inbox_keeps_capacity_exact(self, backend):
        small = self.other(CAPACITY=2)
        reply = small.new_channel("conf.turnbox!")
        for n in range(3):
            turn = small.send_and_receive([(reply, {"n": n})], ["conf.turnbox!"])
            assert (turn.sent, turn.channel, turn.message) == (1, reply, {"n": n})
        small.send(reply, {"n": 3})
        small.send(reply, {"n": 4})
        with pytest.raises(ChannelFull):
            small.send(reply, {"n": 5})

    def test_send_and_receive_never_delivers_expired_messages(self, backend):
        short = self.other(EXPIRY=1)
        short.send("conf.turn.exp", {"n": 1})
        time.sleep(1.5)
        turn = short.send_and_receive([("conf.turn.exp", {"n": 2})], ["conf.turn.exp"])
        assert (turn.sent, turn.message) == (1, {"n": 2})

    def test_at_most_once_when_receivers_send_and_receive(self, backend):
        # Workers taking turns: each answers the message in hand and takes
        # the next in one call. Every message is taken exactly once and
        # every answer arrives.
        count = 300
        sender = self.other(CAPACITY=count + 10)
        if self.cross_process:
            collect = self._receivers_in_processes(
                ["conf.race2"], 3, mode="exchange", CAPACITY=count + 10
            )
        else:
            collect = self._receivers_in_threads(sender, ["conf.race2"], 3, mode="exchange")
        for n in range(count):
            sender.send("conf.race2", {"n": n})
            if n % 10 == 9:
                time.sleep(0.005)
        results = collect()
        everything = [n for got in results for n in got]
        assert sorted(everything) == list(range(count)), "lost or duplicated messages"
        assert sum(1 for got in results if got) >= 2, "only one receiver ever got anything"
        answers = []
        while (message := sender.receive_many(["conf.race2.answers"])[1]) is not None:
            answers.append(message["n"])
        assert sorted(answers) == list(range(count))

    # --- receive_batch ---------------------------------------------------

    def test_receive_batch_takes_what_is_waiting_in_order(self, backend):
        inbox = "conf.batch!"
        names = [backend.new_channel(inbox) for _ in range(3)]
        for n in range(7):
            backend.send(names[n % 3], {"n": n})
        first = backend.receive_batch([inbox], limit=5)
        assert [(c, m["n"]) for c, m in first] == [(names[n % 3], n) for n in range(5)]
        rest = backend.receive_batch([inbox], limit=5)
        assert [m["n"] for _, m in rest] == [5, 6]
        assert backend.receive_batch([inbox]) == []
        for n in range(3):
            backend.send("conf.batch.plain", {"n": n})
        assert [m["n"] for _, m in backend.receive_batch(["conf.batch.plain"])] == [0, 1, 2]
        with pytest.raises(ValueError):
            backend.receive_batch([inbox], limit=0)

    def test_receive_batch_waits_for_the_first_message_only(self, backend):
        sender = self.other()
        reply = backend.new_channel("conf.batchwait!")
        later = threading.Timer(0.3, sender.send, args=(reply, {"n": 1}))
        later.start()
        got = backend.receive_batch(["conf.batchwait!"], block=True, timeout=10)
        later.join()
        assert got == [(reply, {"n": 1})]
        started = time.monotonic()
        assert backend.receive_batch(["conf.batchwait!"], block=True, timeout=0.5) == []
        assert time.monotonic() - started >= 0.45

    def test_receive_batch_keeps_capacity_exact(self, backend):
        small = self.other(CAPACITY=2)
        reply = small.new_channel("conf.batchcap!")
        for _ in range(3):
            small.send(reply, {"n": 1})
            small.send(reply, {"n": 2})
            assert [m["n"] for _, m in small.receive_batch(["conf.batchcap!"])] == [1, 2]
        small.send(reply, {"n": 3})
        small.send(reply, {"n": 4})
        with pytest.raises(ChannelFull):
            small.send(reply, {"n": 5})

    def test_receive_batch_of_a_plain_channel(self, backend):
        small = self.other(CAPACITY=3)
        for n in range(3):
            small.send("conf.plainbatch", {"n": n})
        with pytest.raises(ChannelFull):
            small.send("conf.plainbatch", {"n": -1})
        assert [m["n"] for _, m in small.receive_batch(["conf.plainbatch"], limit=2)] == [0, 1]
        small.send("conf.plainbatch", {"n": 3})
        small.send("conf.plainbatch", {"n": 4})
        with pytest.raises(ChannelFull):
            small.send("conf.plainbatch", {"n": -1})
        taken = small.receive_batch(["conf.plainbatch"], block=True, timeout=5)
        assert [(c, m["n"]) for c, m in taken] == [("conf.plainbatch", n) for n in (2, 3, 4)]
        later = threading.Timer(0.3, self.other().send, args=("conf.plainbatch", {"n": 5}))
        later.start()
        got = small.receive_batch(["conf.plainbatch"], block=True, timeout=10)
        later.join()
        assert got == [("conf.plainbatch", {"n": 5})]

    # --- groups --------------------------------------------------------------

    def test_group_send_reaches_every_member_once(self, backend):
        members = ["conf.g1", "conf.g2", backend.new_channel("conf.g!")]
        for name in members:
            backend.group_add("conf-room", name)
        backend.group_add("conf-room", "conf.g1")  # adding twice is one membership
        assert sorted(backend.group_channels("conf-room")) == sorted(members)
        assert backend.send_group("conf-room", {"text": "hi"}) == 3
        assert backend.receive_many(["conf.g1"]) == ("conf.g1", {"text": "hi"})
        assert backend.receive_many(["conf.g1"]) == (None, None)
        assert backend.receive_many(["conf.g2"]) == ("conf.g2", {"text": "hi"})
        assert backend.receive_many(["conf.g!"]) == (members[2], {"text": "hi"})

    def test_group_discard(self, backend):
        backend.group_add("conf-d", "conf.d1")
        backend.group_add("conf-d", "conf.d2")
        backend.group_discard("conf-d", "conf.d1")
        backend.group_discard("conf-d", "conf.never-added")
        backend.send_group("conf-d", {"n": 1})
        assert backend.receive_many(["conf.d1"]) == (None, None)
        assert backend.receive_many(["conf.d2"]) == ("conf.d2", {"n": 1})

    def test_group_membership_expires(self, backend):
        short = self.other(GROUP_EXPIRY=1)
        short.group_add("conf-exp", "conf.ge1")
        time.sleep(0.6)
        short.group_add("conf-exp", "conf.ge2")
        time.sleep(0.7)
        # ge1 was added 1.3 s ago: gone. ge2 0.7 s ago: still a member.
        assert short.group_channels("conf-exp") == ["conf.ge2"]
        short.send_group("conf-exp", {"n": 1})
        assert short.receive_many(["conf.ge1"]) == (None, None)
        assert short.receive_many(["conf.ge2"]) == ("conf.ge2", {"n": 1})

    def test_group_send_skips_full_members_and_counts_them(self, backend):
        small = self.other(CAPACITY=1)
        small.group_add("conf-full", "conf.full")
        small.group_add("conf-full", "conf.free")
        small.send("conf.full", {"n": 0})
        before = small.stats["group_send_skipped"]
        assert small.send_group("conf-full", {"n": 1}) == 1
        assert small.stats["group_send_skipped"] == before + 1
        assert small.receive_many(["conf.free"]) == ("conf.free", {"n": 1})
        assert small.receive_many(["conf.full"]) == ("conf.full", {"n": 0})

    def test_groups_across_several_receivers(self, backend):
        inboxes = [f"conf.rcv{i}!" for i in range(3)]
        members = [backend.new_channel(inbox) for inbox in inboxes for _ in range(2)]
        for name in members:
            backend.group_add("conf-many", name)
        backend.send_group("conf-many", {"text": "all"})
        received = []
        for inbox in inboxes:
            while True:
                channel, message = backend.receive_many([inbox])
                if channel is None:
                    break
                received.append(channel)
        assert sorted(received) == sorted(members)

    # --- size and validation -------------------------------------------------

    def test_one_mebibyte_message_round_trips(self, backend):
        payload = bytes(range(256)) * 4096  # 1 MiB
        backend.send("conf.large", {"bytes": payload, "text": "é" * 100_000})
        _, message = backend.receive_many(["conf.large"])
        assert message["bytes"] == payload
        assert message["text"] == "é" * 100_000

    def test_oversized_message_is_refused_clearly(self, backend):
        limited = self.other(MAX_MESSAGE_SIZE=1024)
        with pytest.raises(MessageTooLarge, match="1024"):
            limited.send("conf.huge", {"bytes": b"x" * 2000})
        limited.send("conf.huge", {"bytes": b"x" * 100})
        assert limited.receive_many(["conf.huge"])[1] == {"bytes": b"x" * 100}

    @pytest.mark.parametrize(
        "name", ["", "has space", "uni\u00e9", "a" * 101, "two!bangs!", None, b"bytes"]
    )
    def test_invalid_channel_names_are_refused(self, backend, name):
        with pytest.raises(InvalidChannelName):
            backend.send(name, {"n": 1})

    @pytest.mark.parametrize(
        "message",
        [
            "not a dict",
            {1: "int key"},
            {"set": {1, 2}},
            {"object": object()},
            {"huge int": 2**80},
        ],
    )
    def test_unserializable_messages_are_refused_and_harm_no_one(self, backend, message):
        backend.send("conf.valid", {"n": 1})
        with pytest.raises(InvalidMessage):
            backend.send("conf.valid", message)
        assert backend.receive_many(["conf.valid"]) == ("conf.valid", {"n": 1})
        assert backend.receive_many(["conf.valid"]) == (None, None)

    def test_invalid_group_names_are_refused(self, backend):
        with pytest.raises(InvalidChannelName):
            backend.group_add("bad group", "conf.x")
        with pytest.raises(InvalidChannelName):
            backend.send_group("bad!group", {"n": 1})

    def test_flush_empties_channels_and_groups(self, backend):
        backend.send("conf.flush", {"n": 1})
        backend.group_add("conf-flush", "conf.flush")
        backend.flush()
        assert backend.receive_many(["conf.flush"]) == (None, None)
        assert backend.group_channels("conf-flush") == []

    # --- concurrency across processes ---------------------------------------

    @pytest.mark.parametrize("mode", ["receive", "batch"])
    def test_at_most_once_under_concurrent_receivers(self, backend, mode):
        count = 300
        sender = self.other(CAPACITY=count + 10)
        if self.cross_process:
            collect = self._receivers_in_processes(["conf.race"], 3, mode=mode, CAPACITY=count + 10)
        else:
            collect = self._receivers_in_threads(sender, ["conf.race"], 3, mode=mode)
        for n in range(count):
            sender.send("conf.race", {"n": n})
            if n % 10 == 9:
                time.sleep(0.005)  # let every receiver get a turn
        results = collect()
        everything = [n for got in results for n in got]
        assert sorted(everything) == list(range(count)), "lost or duplicated messages"
        assert sum(1 for got in results if got) >= 2, "only one receiver ever got anything"
        for got in results:
            assert got == sorted(got), "one receiver saw messages out of order"

    @staticmethod
    def _receivers_in_threads(backend, channels, count, mode="receive"):
        results = []
        lock = threading.Lock()

        def receive():
            got = take_until_quiet(backend, channels, 1.0, mode)
            with lock:
                results.append(got)

        threads = [threading.Thread(target=receive) for _ in range(count)]
        for thread in threads:
            thread.start()

        def collect():
            for thread in threads:
                thread.join()
            return results

        return collect

    def _receivers_in_processes(self, channels, count, mode="receive", **options):
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        spec = self.process_spec(**options)
        procs = [
            context.Process(target=receive_until_quiet, args=(spec, channels, 2.0, out, mode))
            for _ in range(count)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            assert out.get(timeout=60) == "ready"

        def collect():
            results = [out.get(timeout=120) for _ in procs]
            for proc in procs:
                proc.join(timeout=30)
                assert proc.exitcode == 0
            return results

        return collect


class OpsConformance:
    """The ``"ops"`` extension: channel stats and heartbeats (mix in with the suite)."""

    def test_channel_stats_report_depth_capacity_and_age(self, backend):
        tuned = self.other(CHANNEL_CAPACITY={"ops.big": 500})
        tuned.send("ops.big", {"n": 1})
        time.sleep(0.3)
        tuned.send("ops.big", {"n": 2})
        tuned.send("ops.small", {"n": 1})
        reply = tuned.new_channel("ops.inbox!")
        tuned.send(reply, {"n": 1})
        stats = {s.name: s for s in tuned.channel_stats()}
        assert stats["ops.big"].depth == 2
        assert stats["ops.big"].capacity == 500
        assert 0.25 <= stats["ops.big"].oldest_age < 30
        assert stats["ops.small"].depth == 1
        assert stats["ops.small"].capacity == tuned.capacity
        assert stats["ops.inbox!"].depth == 1
        tuned.receive_many(["ops.small"])
        assert "ops.small" not in {s.name for s in tuned.channel_stats()}

    def test_heartbeats_replace_and_expire(self, backend):
        backend.record_heartbeat({"id": "w1", "kind": "worker", "handled": 1}, ttl=1)
        backend.record_heartbeat({"id": "w1", "kind": "worker", "handled": 2}, ttl=1)
        backend.record_heartbeat({"id": "i1", "kind": "interface", "connections": 3}, ttl=30)
        beats = backend.heartbeats()
        assert [b["id"] for b in beats] == ["i1", "w1"]
        assert beats[1]["handled"] == 2
        time.sleep(1.3)
        assert [b["id"] for b in backend.heartbeats()] == ["i1"]
        with pytest.raises(ValueError):
            backend.record_heartbeat({"kind": "no id"}, ttl=1)
