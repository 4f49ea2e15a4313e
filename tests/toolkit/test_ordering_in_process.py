"""enforce_ordering in one process (memory backend): the held-back store,
dispatch after the replies are sent, the bounded wait, duplicates."""

import logging

from django.test import override_settings

from channels.ordering import ORDERING_KEY
from channels.test import ChannelTestCase, WSClient


def drain(client, channel, limit=1000):
    """Consume until ``channel`` is empty (re-sent and probe messages too)."""
    for _ in range(limit):
        if not any(stats.name == channel for stats in client.backend.channel_stats()):
            return
        client.consume(channel)
    raise AssertionError("channel never drained")


def replies(client):
    out = []
    while (reply := client.receive(json=False)) is not None:
        out.append(reply)
    return out


class OrderingTests(ChannelTestCase):
    def connect(self):
        client = WSClient()
        client.send_and_consume("websocket.connect", {"order": 0}, path="/ordered/")
        return client

    def send(self, client, order, text="x", path="/ordered/"):
        client.send("websocket.receive", {"order": order, "text": text}, path=path)

    def test_early_messages_wait_for_their_turn(self):
        client = self.connect()
        for order in (3, 5, 2, 4, 1):
            self.send(client, order)
        drain(client, "websocket.receive")
        assert replies(client) == ["1", "2", "3", "4", "5"]
        client.send_and_consume(
            "websocket.disconnect", {"order": 6, "code": 1000}, path="/ordered/"
        )
        drain(client, "websocket.disconnect")
        seen = self.get_next_message("test.disconnected", require=True)["seen"]
        assert seen == [1, 2, 3, 4, 5]

    def test_disconnect_waits_for_the_messages_before_it(self):
        client = self.connect()
        client.send("websocket.disconnect", {"order": 3, "code": 1000}, path="/ordered/")
        client.consume("websocket.disconnect")
        assert self.get_next_message("test.disconnected") is None
        self.send(client, 2)
        self.send(client, 1)
        drain(client, "websocket.receive")
        drain(client, "websocket.disconnect")
        assert self.get_next_message("test.disconnected", require=True)["seen"] == [1, 2]

    def test_consume_later_keeps_the_turn(self):
        client = self.connect()
        self.send(client, 1, text="later")
        self.send(client, 2)
        drain(client, "websocket.receive")
        assert replies(client) == ["1", "2"]

    def test_connect_without_enforce_ordering_starts_at_one(self):
        client = WSClient()
        for order in (2, 1, 3):
            self.send(client, order, path="/unordered-connect/")
        drain(client, "websocket.receive")
        assert replies(client) == ["1", "2", "3"]

    def test_async_consumer(self):
        client = WSClient()
        for order in (2, 3, 1):
            self.send(client, order, path="/async-ordered/")
        drain(client, "websocket.receive")
        assert replies(client) == ["async 1", "async 2", "async 3"]

    def test_a_resent_duplicate_is_dropped(self):
        client = self.connect()
        self.send(client, 1)
        drain(client, "websocket.receive")
        client.send(
            "websocket.receive",
            {"order": 1, "text": "x", ORDERING_KEY: {"resent": True}},
            path="/ordered/",
        )
        drain(client, "websocket.receive")
        assert replies(client) == ["1"]

    @override_settings(CHANNELS_ORDERING_MAX_WAIT=0.2)
    def test_a_message_that_never_comes_is_given_up_after_the_wait(self):
        client = self.connect()
        self.send(client, 2)
        self.send(client, 3)
        with self.assertLogs("channels.sessions", logging.ERROR) as logs:
            drain(client, "websocket.receive")  # the probe circulates until 0.2 s pass
        assert replies(client) == ["2", "3"]
        assert "waited" in logs.output[0] and "order 1" in logs.output[0]
        # The lost message turning up late still runs (never lost), with an error.
        with self.assertLogs("channels.sessions", logging.ERROR):
            self.send(client, 1)
            drain(client, "websocket.receive")
        assert replies(client) == ["1"]
