"""Every example in docs/consumers.rst runs (docs/examples/*.py)."""

from django.contrib.auth.models import User
from django.test import override_settings

from channels import Group
from channels.test import ChannelTestCase, WSClient, apply_routes
from docs.examples import auth_chat, class_based, counter, events
from docs.examples.test_counter import CounterTests  # noqa: F401 - collected here


class AuthChatExample(ChannelTestCase):
    @apply_routes(auth_chat.channel_routing)
    def test_login_and_rooms(self):
        anonymous = WSClient()
        anonymous.send_and_consume("websocket.connect", path="/rooms/blue/", check_accept=False)
        assert anonymous.receive(json=False) == {"close": 4001}
        client = WSClient()
        client.force_login(User.objects.create_user("ann"))
        client.send_and_consume("websocket.connect", path="/rooms/blue/")
        client.send_and_consume(
            "websocket.receive", {"text": "hi", "headers": []}, path="/rooms/blue/"
        )
        assert client.receive() == {"user": "ann", "text": "hi"}
        client.send_and_consume("websocket.disconnect", {"code": 1000}, path="/rooms/blue/")
        assert Group("room-blue").channels() == []


class ClassBasedExample(ChannelTestCase):
    @apply_routes(class_based.channel_routing)
    def test_room_and_dashboard(self):
        client = WSClient(ordered=True)
        client.force_login(User.objects.create_user("bo"))
        client.send_and_consume("websocket.connect", path="/rooms/red/")
        client.send_and_consume("websocket.receive", text={"say": "yo"}, path="/rooms/red/")
        assert client.receive() == {"user": "bo", "say": "yo"}
        dash = WSClient()
        dash.send_and_consume("websocket.connect", path="/dashboard/")
        dash.send_and_consume(
            "websocket.receive", text={"stream": "echo", "payload": {"n": 1}}, path="/dashboard/"
        )
        assert dash.receive() == {"stream": "echo", "payload": {"echo": {"n": 1}}}
        assert Group("clock").channels() == [dash.reply_channel]


@override_settings(ROOT_URLCONF="views_project.urls")
class EventsExample(ChannelTestCase):
    @apply_routes(events.channel_routing)
    def test_prices(self):
        client = WSClient()
        client.send_and_consume("http.request", {"method": "GET"}, path="/prices/")
        assert client.receive()["status"] == 200
        events.publish(12.5)
        assert client.receive() == {
            "content": b"event: price\ndata: 12.50\n\n",
            "more_content": True,
        }


    @apply_routes(events.channel_routing)
    def test_other_paths_still_go_to_django_views(self):
        client = WSClient()
        client.send_and_consume("http.request", {"method": "GET"}, path="/hello/")
        assert client.receive(json=False)["content"] == b"Hello, channels!"


def test_counter_routing_is_valid():
    assert len(counter.channel_routing) == 2
