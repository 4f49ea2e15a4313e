"""1.x names that checking the whole Channels 1.1 surface found missing or
different, each used the way the 1.x documentation and 1.x-era code use it.

Run through the 1.x test client, which takes each message through the
worker's dispatcher (routing, outbox, ``ChannelSocketException``...).
"""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from channels import Channel, Group
from channels.asgi import InvalidChannelLayerError
from channels.auth import channel_session_user_from_http
from channels.backends.legacy import layer_backend
from channels.exceptions import WebsocketCloseException
from channels.generic.websockets import WebsocketConsumer
from channels.handler import AsgiRequest
from channels.message import Message
from channels.routing import Router, connect_consumer, include, null_consumer, route
from channels.sessions import channel_session, http_session
from channels.test import ChannelTestCase, Client, WSClient, apply_routes

# --- long polling: a view raises ResponseLater (1.x "Long polling" idiom) ----


def wait_for_news(request):
    """Park the request: its reply channel joins a group and answers later."""
    Group("news-waiters").add(request.reply_channel)
    raise AsgiRequest.ResponseLater()


def news_now(request):
    return HttpResponse(b"no news")


urlpatterns = [path("wait/", wait_for_news), path("now/", news_now)]


def request_content(path: str) -> dict:
    return {"method": "GET", "path": path, "headers": [], "query_string": b"", "body": b""}


@override_settings(ROOT_URLCONF=__name__)
@apply_routes([])
class ResponseLaterTests(ChannelTestCase):
    def test_a_view_raising_response_later_sends_nothing_until_someone_answers(self):
        client = Client()
        client.send_and_consume("http.request", request_content("/wait/"))
        self.assertIsNone(client.receive())  # no 500, no response at all
        Group("news-waiters").send({"status": 200, "content": b"breaking"})
        self.assertEqual(client.receive()["content"], b"breaking")

    def test_other_views_answer_at_once(self):
        client = Client()
        client.send_and_consume("http.request", request_content("/now/"))
        self.assertEqual(client.receive()["content"], b"no news")


# --- routing -----------------------------------------------------------------


def echo(message):
    message.reply_channel.send({"text": message.content.get("text", "connected")})


class RoutingTests(ChannelTestCase):
    def test_one_route_for_several_channels_and_bytes_names(self):
        with apply_routes([route(["websocket.connect", "websocket.receive"], echo)]):
            client = Client()
            client.send_and_consume("websocket.connect", {"path": "/"})
            self.assertEqual(client.receive(), {"text": "connected"})
            client.send_and_consume("websocket.receive", {"path": "/", "text": "hi"})
            self.assertEqual(client.receive(), {"text": "hi"})
        self.assertEqual(route(b"websocket.connect", echo).channel_names, {"websocket.connect"})

    def test_routes_match_a_message(self):
        a_route = route("websocket.connect", echo, path=r"^/room/(?P<room>\w+)/$")
        message = Message({"path": "/room/blue/"}, "websocket.connect")
        self.assertEqual(a_route.match(message), (echo, {"room": "blue"}))
        self.assertEqual(Router([a_route]).match(message), (echo, {"room": "blue"}))
        nested = include([a_route], path=r"^/room")
        self.assertIsNone(nested.match(message))  # the prefix is cut before inner routes
        self.assertIsNone(a_route.match(Message({"path": "/hall/"}, "websocket.connect")))

    def test_null_and_connect_consumers(self):
        with apply_routes(
            [
                route("websocket.connect", connect_consumer),
                route("websocket.receive", null_consumer),
            ]
        ):
            client = Client()
            client.send_and_consume("websocket.connect", {"path": "/"})
            self.assertEqual(client.receive(), {"accept": True})
            client.send_and_consume("websocket.receive", {"path": "/", "text": "dropped"})
            self.assertIsNone(client.receive())

    def test_check_default_sends_other_requests_to_the_views(self):
        router = Router([route("http.request", echo, path=r"^/mine/$")])
        router.check_default()
        self.assertEqual(router.channels, {"http.request"})
        message = Message({"path": "/other/"}, "http.request")
        consumer, kwargs = router.match(message)
        self.assertEqual((type(consumer).__name__, kwargs), ("ViewConsumer", {}))
        self.assertIs(router.match(Message({"path": "/mine/"}, "http.request"))[0], echo)


# --- exceptions, headers, decorators on methods, names -------------------------


def close_with_4001(message):
    raise WebsocketCloseException(4001)


class WebsocketCloseExceptionTests(ChannelTestCase):
    def test_raising_it_closes_the_socket_with_the_code(self):
        with apply_routes([route("websocket.receive", close_with_4001)]):
            client = Client()
            client.send_and_consume("websocket.receive", {"path": "/", "text": "x"})
            self.assertEqual(client.receive(), {"close": 4001})

    def test_bad_codes_are_refused(self):
        for code in (999, 1001, 5000, "4001"):
            with pytest.raises(ValueError):
                WebsocketCloseException(code)
        self.assertIsNone(WebsocketCloseException().code)


@http_session
def session_key_of(message):
    message.reply_channel.send(
        {"text": message.http_session.session_key if message.http_session else "none"}
    )


class DictHeadersTests(ChannelTestCase):
    def test_a_hand_built_message_with_dict_headers(self):
        """1.x test code wrote ``headers`` as a dict; requests and sessions read it."""
        content = {
            "reply_channel": "r.x",
            "path": "/",
            "headers": {
                "cookie": b"sessionid=abcdefgh12345678; flavour=mint",
                "host": "example.com",
            },
        }
        request = AsgiRequest(Message(content, "websocket.connect"))
        self.assertEqual(request.COOKIES, {"sessionid": "abcdefgh12345678", "flavour": "mint"})
        self.assertEqual(request.META["HTTP_HOST"], "example.com")
        with apply_routes([route("websocket.connect", session_key_of)]):
            client = Client()
            client.send_and_consume("websocket.connect", content)
            self.assertEqual(self.get_next_message("r.x", require=True)["text"], "abcdefgh12345678")


class SessionOnMethods(WebsocketConsumer):
    """Decorators on methods, as 1.x allowed (the message is the 2nd argument)."""

    @channel_session_user_from_http
    def connect(self, message, **kwargs):
        message.channel_session["seen"] = "yes"
        message.reply_channel.send({"accept": True})

    def raw_receive(self, message, **kwargs):
        self.receive_with_session(message)

    @channel_session
    def receive_with_session(self, message):
        self.send(text=json.dumps({"seen": message.channel_session.get("seen")}))


class DecoratedMethodTests(ChannelTestCase):
    def test_session_decorators_find_the_message_as_second_argument(self):
        with apply_routes([route_class_of(SessionOnMethods)]):
            client = WSClient()
            client.send_and_consume("websocket.connect", path="/")
            client.send_and_consume("websocket.receive", text="x", path="/")
            self.assertEqual(client.receive(), {"seen": "yes"})

    def test_a_decorator_without_a_message_says_so(self):
        @channel_session
        def consumer(something_else):
            pass

        with pytest.raises(ValueError, match="no Message"):
            consumer("not a message")


def route_class_of(consumer):
    return consumer.as_route(path=r"^/$")


class NamesTests(ChannelTestCase):
    def test_bytes_names_and_the_layer_error(self):
        self.assertEqual(Channel(b"chat.receive").name, "chat.receive")
        self.assertEqual(Group(b"room-1").name, "room-1")
        with pytest.raises(InvalidChannelLayerError, match="asgi_ipc"):
            layer_backend("asgi_ipc.IPCChannelLayer")
