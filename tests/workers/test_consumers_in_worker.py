"""The worker's consumer semantics, through the channels.test client."""

import pytest
from django.test import override_settings

from channels import Channel, Group
from channels.exceptions import ConsumeLater, DenyConnection
from channels.routing import route
from channels.test import ChannelTestCase, Client


def two_sends_then_fail(message):
    Channel("out.one").send({"n": 1})
    Channel("out.two").send({"n": 2})
    if message.content.get("fail"):
        raise RuntimeError("consumer failed half-way")


def sends_immediately_then_fail(message):
    Channel("out.one").send({"n": 1}, immediately=True)
    raise RuntimeError("too late to take it back")


def deny(message):
    raise DenyConnection


attempts = []


def later(message):
    attempts.append(message.content.get("__retries__", 0))
    if len(attempts) < 3:
        raise ConsumeLater


async def async_echo(message):
    message.reply_channel.send({"text": message.content["text"].upper()})


def join(message, room):
    Group(f"room-{room}").add(message.reply_channel)
    message.reply_channel.send({"accept": True})


routes = [
    route("test.atomic", two_sends_then_fail),
    route("test.immediate", sends_immediately_then_fail),
    route("websocket.connect", deny, path="^/deny/$"),
    route("websocket.connect", join, path=r"^/room/(?P<room>\w+)/$"),
    route("test.later", later),
    route("websocket.receive", async_echo),
]


@override_settings(
    CHANNEL_BACKENDS={
        "default": {"BACKEND": "memory", "ROUTING": "tests.workers.test_consumers_in_worker.routes"}
    }
)
class ConsumerSemantics(ChannelTestCase):
    def test_sends_are_delivered_when_the_consumer_returns(self):
        Client().send_and_consume("test.atomic", {})
        assert self.get_next_message("out.one", require=True).content == {"n": 1}
        assert self.get_next_message("out.two", require=True).content == {"n": 2}

    def test_client_raises_consumer_errors_like_channels_1(self):
        with pytest.raises(RuntimeError, match="half-way"):
            Client().send_and_consume("test.atomic", {"fail": True})
        assert self.get_next_message("out.one") is None

    def test_a_failing_consumer_sends_nothing(self):
        Client(raise_exceptions=False).send_and_consume("test.atomic", {"fail": True})
        assert self.get_next_message("out.one") is None
        assert self.get_next_message("out.two") is None

    def test_immediately_bypasses_the_outbox(self):
        Client(raise_exceptions=False).send_and_consume("test.immediate", {})
        assert self.get_next_message("out.one", require=True).content == {"n": 1}

    def test_deny_connection_closes_the_socket(self):
        client = Client()
        client.send_and_consume("websocket.connect", {"path": "/deny/"})
        assert client.receive() == {"close": True}

    def test_unrouted_connect_is_accepted(self):
        client = Client()
        client.send_and_consume("websocket.connect", {"path": "/anything/"})
        assert client.receive() == {"accept": True}

    def test_routed_connect_with_kwargs_and_groups(self):
        first, second = Client(), Client()
        first.send_and_consume("websocket.connect", {"path": "/room/blue/"})
        second.send_and_consume("websocket.connect", {"path": "/room/blue/"})
        assert first.receive() == {"accept": True}
        Group("room-blue").send({"text": "hello"})
        assert first.receive() == {"text": "hello"}
        assert second.receive() == {"accept": True}
        assert second.receive() == {"text": "hello"}

    def test_consume_later_requeues_with_a_retry_count(self):
        attempts.clear()
        client = Client()
        client.send_and_consume("test.later", {})
        client.consume("test.later")
        client.consume("test.later")
        assert attempts == [0, 1, 2]
        assert client.get_next_message("test.later") is None

    def test_async_consumer_runs_to_completion(self):
        client = Client()
        client.send_and_consume("websocket.receive", {"text": "shout"})
        assert client.receive() == {"text": "SHOUT"}


def test_channel_send_refuses_non_dicts():
    with pytest.raises(TypeError, match="only send dicts"):
        Channel("x", channel_backend=object()).send(["not", "a", "dict"])


def broken_view_consumer(message):
    raise RuntimeError("routed http.request consumer failed")


@override_settings(
    CHANNEL_BACKENDS={
        "default": {
            "BACKEND": "memory",
            "ROUTING": [
                route("http.request", broken_view_consumer),
                route("websocket.connect", broken_view_consumer),
            ],
        }
    }
)
class FailureReplies(ChannelTestCase):
    def test_failing_http_consumer_answers_500_instead_of_a_timeout(self):
        client = Client(raise_exceptions=False)
        client.send_and_consume("http.request", {"path": "/", "method": "GET"})
        reply = client.receive()
        assert reply["status"] == 500

    def test_failing_connect_consumer_refuses_the_socket(self):
        client = Client(raise_exceptions=False)
        client.send_and_consume("websocket.connect", {"path": "/"})
        assert client.receive() == {"close": True}
