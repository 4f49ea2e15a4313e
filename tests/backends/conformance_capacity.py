"""The capacity promises of the backend contract, part of the conformance
suite (:class:`~.conformance.BackendConformance` inherits them): capacity
and ``send_within``, expiry, process-local channels' own capacity, and
holding capacity (the ``"hold"`` extension). Uses the suite's ``backend``
fixture and ``other()``."""

from __future__ import annotations

import threading
import time

import pytest

from channels.exceptions import ChannelFull, InvalidChannelName


class CapacityConformance:
    """Mixed into :class:`~.conformance.BackendConformance`."""

    # --- capacity and expiry ---------------------------------------------

    def test_capacity_refuses_with_channel_full(self, backend):
        small = self.other(CAPACITY=3)
        for n in range(3):
            small.send("conf.cap", {"n": n})
        with pytest.raises(ChannelFull, match="conf.cap"):
            small.send("conf.cap", {"n": 3})
        # Other channels are not affected by one full channel.
        small.send("conf.cap.other", {"n": 0})
        assert small.receive_many(["conf.cap"])[1] == {"n": 0}
        small.send("conf.cap", {"n": 3})
        got = [small.receive_many(["conf.cap"])[1]["n"] for _ in range(3)]
        assert got == [1, 2, 3]

    @pytest.mark.parametrize("channel", ["conf.encwithin", "conf.encwithin!reply"])
    def test_send_encoded_many_checks_a_capacity_given_per_item(self, backend, channel):
        small = self.other(CAPACITY=3)
        encode = small.encode
        results = small.send_encoded_many(
            [
                (channel, encode({"n": 0}), 2),
                (channel, encode({"n": 1}), 2),
                (channel, encode({"n": 2}), 2),  # full at the capacity given
                (channel, encode({"n": 3}), None),  # the channel's own: 3
                (channel, encode({"n": 4})),  # the same
                (channel, encode({"n": 5}), 0),  # not a capacity
            ]
        )
        assert [type(r) for r in results[:5]] == [type(None), type(None), ChannelFull,
                                                  type(None), ChannelFull]  # fmt: skip
        assert isinstance(results[5], ValueError)
        receive_on = "conf.encwithin!" if channel.endswith("!reply") else channel
        got = [small.receive_many([receive_on])[1]["n"] for _ in range(3)]
        assert got == [0, 1, 3]
        assert small.receive_many([receive_on]) == (None, None)

    @pytest.mark.parametrize("channel", ["conf.within", "conf.within!reply"])
    def test_send_within_checks_the_capacity_it_is_given(self, backend, channel):
        small = self.other(CAPACITY=2)
        small.send(channel, {"n": 0})
        small.send(channel, {"n": 1})
        with pytest.raises(ChannelFull):
            small.send(channel, {"n": 2})
        # Past the configured capacity, up to the one given ...
        small.send_within(channel, {"n": 2}, 4)
        small.send_within(channel, {"n": 3}, 4)
        with pytest.raises(ChannelFull, match="conf.within"):
            small.send_within(channel, {"n": 4}, 4)
        # ... and below it: a channel holding one message refuses at 1.
        small.send_within("conf.within.lock", {"n": 0}, 1)
        with pytest.raises(ChannelFull):
            small.send_within("conf.within.lock", {"n": 1}, 1)
        receive_on = "conf.within!" if channel.endswith("!reply") else channel
        got = [small.receive_many([receive_on])[1]["n"] for _ in range(4)]
        assert got == [0, 1, 2, 3]
        with pytest.raises(ValueError):
            small.send_within(channel, {"n": 5}, 0)
        with pytest.raises(InvalidChannelName):
            small.send_within("conf.bad name", {"n": 5}, 1)

    def test_send_within_one_is_a_lock_only_one_holder_gets(self, backend):
        # What channels.ordering relies on: of many concurrent takers of a
        # capacity-1 channel exactly one gets it, until it is received.
        takers = [self.other() for _ in range(6)]
        start = threading.Barrier(len(takers))
        won: list[int] = []

        def take(index, taker):
            start.wait(timeout=30)
            try:
                taker.send_within("conf.lock", {"holder": index}, 1)
                won.append(index)
            except ChannelFull:
                pass

        threads = [threading.Thread(target=take, args=pair) for pair in enumerate(takers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(won) == 1
        assert backend.receive_many(["conf.lock"]) == ("conf.lock", {"holder": won[0]})
        takers[0].send_within("conf.lock", {"holder": 0}, 1)  # free again

    def test_channel_capacity_overrides_by_pattern(self, backend):
        tuned = self.other(CAPACITY=2, CHANNEL_CAPACITY={"conf.big.*": 5})
        for n in range(5):
            tuned.send("conf.big.one", {"n": n})
        with pytest.raises(ChannelFull):
            tuned.send("conf.big.one", {"n": 5})
        tuned.send("conf.small", {"n": 0})
        tuned.send("conf.small", {"n": 1})
        with pytest.raises(ChannelFull):
            tuned.send("conf.small", {"n": 2})

    def test_expired_messages_are_never_delivered(self, backend):
        short = self.other(EXPIRY=1, CAPACITY=2)
        short.send("conf.exp", {"n": 1})
        short.send("conf.exp", {"n": 2})
        time.sleep(1.5)
        # Expired messages no longer count against capacity either.
        short.send("conf.exp", {"n": 3})
        short.send("conf.exp", {"n": 4})
        assert short.receive_many(["conf.exp"])[1] == {"n": 3}
        assert short.receive_many(["conf.exp"])[1] == {"n": 4}
        assert short.receive_many(["conf.exp"]) == (None, None)

    # --- process-local channels ------------------------------------------

    def test_new_channel_names_are_unique_and_unguessable(self, backend):
        names = {backend.new_channel("conf.reply!") for _ in range(200)}
        assert len(names) == 200
        for name in names:
            assert name.startswith("conf.reply!")
            assert len(name) - len("conf.reply!") >= 32  # 128 bits in hex
        plain = backend.new_channel("conf.plain")
        assert plain.startswith("conf.plain.") and "!" not in plain

    def test_process_local_channels_arrive_in_their_inbox(self, backend):
        inbox = "conf.proc!"
        first, second = backend.new_channel(inbox), backend.new_channel(inbox)
        backend.send(first, {"n": 1})
        backend.send(second, {"n": 2})
        backend.send(first, {"n": 3})
        got = [backend.receive_many([inbox]) for _ in range(3)]
        assert got == [(first, {"n": 1}), (second, {"n": 2}), (first, {"n": 3})]
        assert backend.receive_many([inbox]) == (None, None)

    def test_capacity_of_process_local_channels_is_per_channel(self, backend):
        small = self.other(CAPACITY=2)
        names = [small.new_channel("conf.cap!") for _ in range(5)]
        for name in names:
            small.send(name, {"n": 1})
            small.send(name, {"n": 2})
        with pytest.raises(ChannelFull):
            small.send(names[0], {"n": 3})
        count = 0
        while small.receive_many(["conf.cap!"])[0] is not None:
            count += 1
        assert count == 10

    def test_blocking_receives_on_an_inbox_keep_capacity_exact(self, backend):
        small = self.other(CAPACITY=2)
        name = small.new_channel("conf.blk!")
        for n in range(3):
            sender = threading.Timer(0.2, small.send, args=(name, {"n": n}))
            sender.start()
            assert small.receive_many(["conf.blk!"], block=True, timeout=10) == (name, {"n": n})
            sender.join()
        # Once the receiver has looked again, the channel holds nothing and
        # takes exactly CAPACITY messages.
        assert small.receive_many(["conf.blk!"]) == (None, None)
        small.send(name, {"n": 3})
        small.send(name, {"n": 4})
        with pytest.raises(ChannelFull):
            small.send(name, {"n": 5})

    def test_cannot_send_to_a_bare_inbox_name(self, backend):
        with pytest.raises(InvalidChannelName, match="inbox"):
            backend.send("conf.inbox!", {"n": 1})

    # --- holding capacity (the "hold" extension) ------------------------------

    def test_a_held_channel_is_full_sooner_until_released(self, backend):
        assert "hold" in backend.extensions
        small = self.other(CAPACITY=3)
        held, neighbour = small.new_channel("conf.hold!"), small.new_channel("conf.hold!")
        small.send(held, {"n": 1})
        small.hold(held, 2)
        with pytest.raises(ChannelFull):
            small.send(held, {"n": 2})
        # Only that channel: the others of its inbox keep their capacity.
        small.send(neighbour, {"n": 1})
        # A hold is never delivered; the messages are.
        got = [small.receive_many(["conf.hold!"]) for _ in range(3)]
        assert got == [(held, {"n": 1}), (neighbour, {"n": 1}), (None, None)]
        assert "conf.hold!" not in {stats.name for stats in small.channel_stats()}
        # Still held: room for one message only.
        small.send(held, {"n": 3})
        with pytest.raises(ChannelFull):
            small.send(held, {"n": 4})
        small.release(held, 2)
        small.send(held, {"n": 4})
        small.send(held, {"n": 5})
        with pytest.raises(ChannelFull):
            small.send(held, {"n": 6})
        got = [small.receive_many(["conf.hold!"]) for _ in range(4)]
        assert got == [(held, {"n": 3}), (held, {"n": 4}), (held, {"n": 5}), (None, None)]

    def test_holds_add_up_and_release_in_parts(self, backend):
        small = self.other(CAPACITY=2)
        held = small.new_channel("conf.hold!")
        small.hold(held, 1)
        small.hold(held, 1)
        with pytest.raises(ChannelFull):
            small.send(held, {"n": 1})
        small.release(held, 1)
        small.send(held, {"n": 1})
        small.release(held, 1)
        small.send(held, {"n": 2})
        with pytest.raises(ChannelFull):
            small.send(held, {"n": 3})

    @pytest.mark.parametrize(
        "channel, count",
        [("conf.plain", 1), ("conf.bad!", 1), ("conf.ok!x", 0), ("conf.ok!x", True), ("a b!c", 1)],
    )
    def test_only_process_local_channels_and_positive_counts_are_held(
        self, backend, channel, count
    ):
        with pytest.raises((ValueError, InvalidChannelName)):
            backend.hold(channel, count)
        with pytest.raises((ValueError, InvalidChannelName)):
            backend.release(channel, count)
