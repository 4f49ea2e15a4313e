"""The 1.x test API (``channels.test`` and the ``channels.tests`` alias), each
idiom as the 1.x testing docs write it."""

from __future__ import annotations

import importlib
import sys
import warnings

from django.contrib.auth.models import User
from django.test import override_settings

from channels import Channel, Group
from channels.generic.websockets import JsonWebsocketConsumer, WebsocketConsumer
from channels.routing import route
from channels.test import (
    ChannelTestCase,
    Client,
    HttpClient,
    TransactionChannelTestCase,
    WSClient,
    apply_routes,
)


def square(message):
    """The 1.x docs' consumer: post the square of a value to "result"."""
    Channel("result").send({"value": message.content["value"] ** 2})
    return "squared"


async def async_square(message):
    Channel("result").send({"value": message["value"] ** 2})
    return "async squared"


def echo(message):
    message.reply_channel.send({"all is": "done", "got": message["value"]})


class EchoConsumer(WebsocketConsumer):
    def receive(self, text=None, bytes=None, **kwargs):
        self.send(text=text)


class RoomConsumer(JsonWebsocketConsumer):
    """The 1.x docs' ``RoomConsumer`` (HttpClient example)."""

    http_user = True
    groups = ["rooms_watchers"]

    def receive(self, content, **kwargs):
        self.send({"rooms": self.message.http_session.get("rooms", [])})
        Channel("rooms_receive").send({"user": self.message.user.id, "message": content["message"]})


ROUTES = [
    route("input", square),
    route("async.input", async_square),
    route("my_internal_channel", echo),
    EchoConsumer.as_route(path=r"^/echo/$"),
    RoomConsumer.as_route(path=r"^/rooms/$"),
]
SETTINGS = {
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "SESSION_ENGINE": "django.contrib.sessions.backends.db",
}


@override_settings(**SETTINGS)
@apply_routes(ROUTES)
class ClientTests(ChannelTestCase):
    def test_get_next_message_and_a_consumer_called_directly(self):
        # docs: "an extended example testing a consumer"
        Channel("input").send({"value": 33})
        square(self.get_next_message("input", require=True))
        result = self.get_next_message("result", require=True)
        self.assertEqual(result["value"], 1089)

    def test_generic_consumer_replies_read_by_reply_channel_name(self):
        # docs: "Generic Consumers" -- a consumer made from a message, its reply
        # read with get_next_message(message.reply_channel.name).
        client = Client()
        client.send("websocket.receive", {"text": "hi", "path": "/echo/"})
        message = self.get_next_message("websocket.receive", require=True)
        EchoConsumer(message)
        reply = self.get_next_message(message.reply_channel.name, require=True)
        self.assertEqual(reply["text"], "hi")

    def test_groups(self):
        # docs: "Groups"
        Group("test-group").add("test-channel")
        Group("test-group").send({"value": 42})
        result = self.get_next_message("test-channel", require=True)
        self.assertEqual(result["value"], 42)

    def test_send_and_consume_and_receive(self):
        # docs: "Clients"
        client = Client()
        client.send_and_consume("my_internal_channel", {"value": "my_value"})
        self.assertEqual(client.receive(), {"all is": "done", "got": "my_value"})
        self.assertIsNone(client.receive())

    def test_consume_returns_what_the_consumer_returned(self):
        client = Client()
        self.assertEqual(client.send_and_consume("input", {"value": 3}), "squared")
        self.assertEqual(self.get_next_message("result")["value"], 9)
        self.assertEqual(client.send_and_consume("async.input", {"value": 4}), "async squared")
        self.assertEqual(self.get_next_message("result")["value"], 16)

    def test_consume_returns_the_instance_of_a_class_based_consumer(self):
        client = WSClient()
        consumer = client.send_and_consume("websocket.receive", text="hello", path="/echo/")
        self.assertIsInstance(consumer, EchoConsumer)
        self.assertEqual(consumer.message["text"], "hello")
        self.assertEqual(consumer.path, "/echo/")
        self.assertEqual(client.receive(json=False), "hello")

    def test_consume_with_nothing_waiting(self):
        client = Client()
        self.assertIsNone(client.consume("input", fail_on_none=False))
        with self.assertRaisesMessage(AssertionError, "no message waiting on input"):
            client.consume("input")

    def test_get_next_message_of_the_reply_channel(self):
        client = Client()
        client.send("my_internal_channel", {"value": 1})
        client.consume("my_internal_channel")
        reply = client.get_next_message(client.reply_channel)
        self.assertEqual(reply.content, {"all is": "done", "got": 1})
        self.assertEqual(reply.channel.name, client.reply_channel)
        self.assertIsNone(client.get_next_message(client.reply_channel))

    def test_reply_channels_of_one_inbox_are_read_apart(self):
        # Two channels of one process inbox: reading one keeps the other's
        # messages for their own reads, in order.
        backend = Client().backend
        a, b = backend.new_channel("shared!"), backend.new_channel("shared!")
        for n in range(3):
            Channel(a).send({"n": f"a{n}"})
            Channel(b).send({"n": f"b{n}"})
        self.assertEqual([self.get_next_message(b)["n"] for _ in range(3)], ["b0", "b1", "b2"])
        self.assertIsNone(self.get_next_message(b))
        self.assertEqual([self.get_next_message(a)["n"] for _ in range(3)], ["a0", "a1", "a2"])
        self.assertIsNone(self.get_next_message("shared!"))

    def test_join_group(self):
        client = HttpClient()
        client.join_group("watchers")
        Group("watchers").send({"text": "ok"})
        self.assertEqual(client.receive(json=False), "ok")

    def test_get_consumer_by_channel(self):
        self.assertIs(Client().get_consumer_by_channel("input"), square)
        self.assertIsNone(Client().get_consumer_by_channel("nothing.routed"))

    def test_http_client_as_the_docs_write_it(self):
        # docs: the HttpClient example, word for word.
        client = HttpClient()
        user = User.objects.create_user(username="test", email="test@test.com", password="123456")
        client.login(username="test", password="123456")

        client.send_and_consume("websocket.connect", path="/rooms/")
        self.assertIsNone(client.receive())

        Group(RoomConsumer.groups[0]).send({"text": "ok"}, immediately=True)
        self.assertEqual(client.receive(json=False), "ok")

        client.session["rooms"] = ["test", "1"]
        client.session.save()

        client.send_and_consume("websocket.receive", text={"message": "hey"}, path="/rooms/")
        self.assertEqual(client.receive(), {"rooms": ["test", "1"]})
        self.assertEqual(
            self.get_next_message("rooms_receive").content, {"user": user.id, "message": "hey"}
        )
        self.assertIsNone(client.receive())

    def test_headers_as_1x_had_them(self):
        client = WSClient()
        self.assertEqual(client.headers, {"cookie": b""})
        client.set_header("origin", "http://example.com")
        client.set_cookie("flavour", "mint")
        client.set_cookie("spaced", "a b")
        headers = client.headers
        self.assertEqual(headers["origin"], "http://example.com")
        self.assertEqual(headers["cookie"], b'flavour=mint; spaced="a b"')
        with self.assertRaises(ValueError):
            client.set_header("cookie", "x=1")
        # What a consumer sees: the server's [name, value] byte pairs.
        client.send("websocket.receive", text="hi", path="/echo/")
        message = self.get_next_message("websocket.receive", require=True)
        self.assertIn([b"origin", b"http://example.com"], message["headers"])
        self.assertIn([b"cookie", b'flavour=mint; spaced="a b"'], message["headers"])


@apply_routes(ROUTES)
class TransactionTests(TransactionChannelTestCase):
    def test_a_transaction_test_case_has_in_memory_channels_too(self):
        Channel("input").send({"value": 5})
        self.assertEqual(Client().consume("input"), "squared")
        self.assertEqual(self.get_next_message("result", require=True)["value"], 25)


class AliasTests(ChannelTestCase):
    def test_channels_tests_imports_warn_and_work(self):
        sys.modules.pop("channels.tests", None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tests = importlib.import_module("channels.tests")
        self.assertTrue(any(issubclass(w.category, DeprecationWarning) for w in caught))
        self.assertIs(tests.ChannelTestCase, ChannelTestCase)
        self.assertIs(tests.HttpClient, WSClient)

        from channels.test.base import Client as BaseClient
        from channels.test.base import apply_routes as base_apply_routes
        from channels.test.http import HttpClient as HttpHttpClient
        from channels.tests.base import ChannelTestCase as OldTestCase
        from channels.tests.http import HttpClient as OldHttpClient

        self.assertIs(BaseClient, Client)
        self.assertIs(base_apply_routes, apply_routes)
        self.assertIs(HttpHttpClient, WSClient)
        self.assertIs(OldTestCase, ChannelTestCase)
        self.assertIs(OldHttpClient, WSClient)
