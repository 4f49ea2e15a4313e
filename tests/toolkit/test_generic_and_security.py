"""Class-based consumers and origin checks in process (the e2e tests run them
through real workers); details the e2e tests do not reach."""

import pytest
from django.test import override_settings

from channels.generic.http import ServerSentEventsConsumer
from channels.generic.websockets import JsonWebsocketConsumer, WebsocketConsumer
from channels.routing import route, route_class
from channels.security.websockets import OriginValidator, allowed_hosts_only
from channels.test import ChannelTestCase, Client, WSClient, apply_routes


class Echo(WebsocketConsumer):
    groups = ["echoes"]

    def receive(self, text=None, bytes=None, **kwargs):
        self.send(text=text, bytes=bytes)
        if text == "bye":
            self.close(4000)


class AsyncJson(JsonWebsocketConsumer):
    async def receive(self, content, **kwargs):
        self.send({"got": content})


@allowed_hosts_only
def guarded(message):
    message.reply_channel.send({"accept": True})


@allowed_hosts_only
async def async_guarded(message):
    message.reply_channel.send({"accept": True})


@OriginValidator.allowing([".example.org"])
def org_only(message):
    message.reply_channel.send({"accept": True})


class Guarded(WebsocketConsumer):
    @allowed_hosts_only
    def connect(self, message, **kwargs):
        message.reply_channel.send({"accept": True})


@override_settings(ALLOWED_HOSTS=["good.example"])
class GenericTests(ChannelTestCase):
    @apply_routes([Echo.as_route(path="^/echo/$"), AsyncJson.as_route(path="^/json/$")])
    def test_websocket_consumers(self):
        client = WSClient()
        client.send_and_consume("websocket.connect", path="/echo/")
        client.send_and_consume("websocket.receive", text="hi", path="/echo/")
        assert client.receive(json=False) == "hi"
        client.send_and_consume("websocket.receive", {"bytes": b"\x00"}, path="/echo/")
        assert client.receive(json=False) == {"bytes": b"\x00"}
        Echo.group_send("echoes", text="to all")
        assert client.receive(json=False) == "to all"
        client.send_and_consume("websocket.receive", text="bye", path="/echo/")
        assert client.receive(json=False) == "bye"
        assert client.receive(json=False) == {"close": 4000}
        client.send_and_consume("websocket.receive", text={"a": 1}, path="/json/")
        assert client.receive() == {"got": {"a": 1}}

    def test_as_route_attrs_and_channel_names(self):
        made = Echo.as_route(attrs={"groups": ["other"]}, path="^/x/$")
        assert made.consumer.groups == ["other"] and made.consumer is not Echo
        assert route_class(Echo).channel_names == {
            "websocket.connect",
            "websocket.receive",
            "websocket.disconnect",
        }
        assert ServerSentEventsConsumer.format_event("a\nb", event="e") == (
            b"event: e\ndata: a\ndata: b\n\n"
        )

    @apply_routes(
        [
            route("websocket.connect", guarded, path="^/g/$"),
            route("websocket.connect", async_guarded, path="^/ag/$"),
            route("websocket.connect", org_only, path="^/org/$"),
            Guarded.as_route(path="^/cls/$"),
        ]
    )
    def test_origin_checks(self):
        for path in ("/g/", "/ag/", "/cls/"):
            client = WSClient()
            client.set_header("origin", "https://good.example")
            client.send_and_consume("websocket.connect", path=path)
            client = WSClient()
            client.set_header("origin", "https://evil.example")
            client.send_and_consume("websocket.connect", path=path, check_accept=False)
            assert client.receive(json=False) == {"close": True}, path
            client = WSClient()
            client.send_and_consume("websocket.connect", path=path, check_accept=False)
            assert client.receive(json=False) == {"close": True}, path
        client = WSClient()
        client.set_header("origin", "http://chat.example.org")
        client.send_and_consume("websocket.connect", path="/org/")

    def test_origin_check_needs_headers(self):
        client = Client(raise_exceptions=True)
        with apply_routes([route("websocket.receive", guarded)]), pytest.raises(ValueError):
            client.send_and_consume("websocket.receive", {"text": "x"})
