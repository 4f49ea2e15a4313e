"""The legacy chat app's test suite, written as for Channels 1.x."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from channels import Group
from channels.exceptions import SendNotAvailableOnDemultiplexer
from channels.generic.websockets import WebsocketDemultiplexer
from channels.routing import route
from channels.test import ChannelTestCase, Client, HttpClient, WSClient, apply_routes

from .legacy_chat import consumers

pytestmark = pytest.mark.own_settings

LEGACY = {
    "CHANNEL_LAYERS": {
        "default": {
            "BACKEND": "asgiref.inmemory.ChannelLayer",
            "ROUTING": "tests.toolkit.legacy_chat.routing.channel_routing",
        },
    },
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
}


@override_settings(**LEGACY)
class ChatTests(ChannelTestCase):
    def setUp(self):
        User.objects.create_user(username="alice", password="pw")
        User.objects.create_user(username="bob", password="pw")

    def connect(self, username, room="lobby"):
        client = HttpClient(ordered=True)
        self.assertTrue(client.login(username=username, password="pw"))
        client.send_and_consume("websocket.connect", path=f"/chat/{room}/")
        return client

    def test_anonymous_is_refused(self):
        client = HttpClient(ordered=True)
        client.send_and_consume(
            "websocket.connect", path="/chat/lobby/", check_accept=False
        )
        self.assertEqual(client.receive(json=False), {"close": True})

    def test_rooms(self):
        alice = self.connect("alice")
        self.assertEqual(alice.receive(), {"joined": "alice"})
        bob = self.connect("bob")
        self.assertEqual(alice.receive(), {"joined": "bob"})
        self.assertEqual(bob.receive(), {"joined": "bob"})

        alice.send_and_consume("websocket.receive", text="hello", path="/chat/lobby/")
        self.assertEqual(alice.receive(), {"user": "alice", "message": "hello"})
        self.assertEqual(bob.receive(), {"user": "alice", "message": "hello"})

        log = self.get_next_message("chat.log", require=True)
        self.assertEqual(log.content, {"room": "lobby", "user": "alice"})

        bob.send_and_consume("websocket.disconnect", {"code": 1000}, path="/chat/lobby/")
        alice.send_and_consume("websocket.receive", text="anyone?", path="/chat/lobby/")
        self.assertEqual(alice.receive(), {"user": "alice", "message": "anyone?"})
        self.assertIsNone(bob.receive())

    def test_unknown_room(self):
        client = HttpClient(ordered=True)
        client.login(username="alice", password="pw")
        client.send_and_consume(
            "websocket.connect", path="/chat/nowhere/", check_accept=False
        )
        self.assertEqual(client.receive(json=False), {"close": True})

    def test_log_consumer(self):
        client = Client()
        Group("chat-log").add(client.reply_channel)
        client.send_and_consume("chat.log", {"room": "lobby", "user": "x"})
        logged = json.loads(client.receive()["text"])
        self.assertEqual((logged["room"], logged["user"]), ("lobby", "x"))

    def test_multiplexer(self):
        client = WSClient()
        client.force_login(User.objects.get(username="bob"))
        watcher = WSClient()
        Group("who").add(watcher.reply_channel)
        client.send_and_consume("websocket.connect", path="/multi/")
        here = {"stream": "who", "payload": {"here": "bob"}}
        self.assertEqual(watcher.receive(), here)
        # bob joined the "who" group at connect: he hears himself arrive.
        self.assertEqual(client.receive(), here)
        client.send_and_consume(
            "websocket.receive",
            path="/multi/",
            text={"stream": "rooms", "payload": {"action": "list"}},
        )
        self.assertEqual(
            client.receive(),
            {"stream": "rooms", "payload": {"rooms": consumers.ROOMS, "user": "bob"}},
        )
        client.send_and_consume(
            "websocket.receive", path="/multi/", text={"stream": "who", "payload": {}}
        )
        self.assertEqual(client.receive(), {"stream": "who", "payload": {"you": "bob"}})
        with self.assertRaises(ValueError):
            client.send_and_consume(
                "websocket.receive", path="/multi/", text={"stream": "nope", "payload": {}}
            )

    def test_demultiplexer_cannot_send(self):
        with self.assertRaises(SendNotAvailableOnDemultiplexer):
            WebsocketDemultiplexer.group_send("who", "hi")


def echo(message):
    message.reply_channel.send({"text": message.content["text"]})


@override_settings(**LEGACY)
class ApplyRoutesTests(ChannelTestCase):
    @apply_routes([route("websocket.receive", echo)])
    def test_decorator(self):
        client = WSClient()
        client.send_and_consume("websocket.receive", text={"a": 1})
        self.assertEqual(client.receive(), {"a": 1})

    def test_context_manager(self):
        with apply_routes([[route("test.echo", echo)]]):
            client = Client()
            client.send_and_consume("test.echo", {"text": "hi"})
            self.assertEqual(client.receive(), {"text": "hi"})
        with self.assertRaises(AssertionError):
            Client().send_and_consume("test.echo", {"text": "hi"})


@apply_routes(route("websocket.receive", echo))
@override_settings(**LEGACY)
class ApplyRoutesOnAClassTests(ChannelTestCase):
    def test_echo(self):
        client = WSClient()
        client.send_and_consume("websocket.receive", text="plain")
        self.assertEqual(client.receive(json=False), "plain")
