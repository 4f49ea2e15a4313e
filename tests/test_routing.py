"""Routing: channel names, regex filters with named groups, include, route_class."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from channels.routing import Router, include, route, route_class


def consumer_a(message, **kwargs):
    pass


def consumer_b(message, **kwargs):
    pass


class RoomConsumer:
    @classmethod
    def channel_names(cls):
        return {"websocket.connect", "websocket.receive"}


def test_first_matching_route_wins_with_named_groups_as_kwargs():
    router = Router(
        [
            route("websocket.receive", consumer_a, path=r"^/chat/(?P<room>[^/]+)/$"),
            route("websocket.receive", consumer_b),
        ]
    )
    assert router.match_content("websocket.receive", {"path": "/chat/lobby/"}) == (
        consumer_a,
        {"room": "lobby"},
    )
    assert router.match_content("websocket.receive", {"path": "/other/"}) == (consumer_b, {})
    assert router.match_content("websocket.connect", {"path": "/chat/lobby/"}) is None
    assert router.channels == {"websocket.receive"}


def test_filters_on_any_key_and_on_bytes_values():
    router = Router(
        [route("http.request", consumer_a, method="^POST$", query_string=r"^id=(?P<id>\d+)$")]
    )
    assert router.match_content("http.request", {"method": "POST", "query_string": b"id=42"}) == (
        consumer_a,
        {"id": "42"},
    )
    assert router.match_content("http.request", {"method": "GET", "query_string": b"id=42"}) is None
    assert router.match_content("http.request", {"method": "POST"}) is None


def test_include_strips_the_matched_prefix():
    inner = [route("websocket.connect", consumer_b, path=r"^/room/(?P<room>\w+)/$")]
    router = Router([include(inner, path=r"^/v(?P<version>\d)")])
    assert router.match_content("websocket.connect", {"path": "/v2/room/x/"}) == (
        consumer_b,
        {"version": "2", "room": "x"},
    )
    assert router.match_content("websocket.connect", {"path": "/room/x/"}) is None


def test_include_by_dotted_path_and_nested():
    router = Router([include("tests.test_routing.nested_routes", path=r"^/api")])
    assert router.match_content("http.request", {"path": "/api/deep/ok"})[0] is consumer_a


nested_routes = [include([route("http.request", consumer_a, path="^/ok$")], path="^/deep")]


def test_route_class_serves_every_channel_it_names():
    router = Router([route_class(RoomConsumer, path=r"^/live/$")])
    assert router.channels == {"websocket.connect", "websocket.receive"}
    assert router.match_content("websocket.receive", {"path": "/live/"}) == (RoomConsumer, {})
    assert router.match_content("websocket.disconnect", {"path": "/live/"}) is None


def test_dict_routing_of_channels_1_0():
    router = Router({"chat.receive": consumer_a})
    assert router.match_content("chat.receive", {}) == (consumer_a, {})


def test_consumer_given_as_dotted_path():
    router = Router([route("x.y", "tests.test_routing.consumer_b")])
    assert router.match_content("x.y", {})[0] is consumer_b


@pytest.mark.parametrize(
    "build, error",
    [
        (lambda: route("bad name", consumer_a), "invalid channel name"),
        (lambda: route("ok", consumer_a, path="(unclosed"), "not a valid regex"),
        (lambda: route("ok", "no.such.module.consumer"), "No module"),
        (lambda: route("ok", 42), "not callable"),
        (lambda: Router(["not a route"]), "is not a route"),
        (lambda: Router("no.such.routing"), "cannot import routing"),
        (lambda: route_class(consumer_a), "channel_names"),
    ],
)
def test_bad_routing_is_a_clear_error(build, error):
    with pytest.raises((ImproperlyConfigured, ValueError, ImportError), match=error):
        build()


def test_serving_router_sends_unrouted_http_requests_to_the_views():
    from channels.handler import ViewConsumer
    from channels.staticfiles import StaticFilesConsumer
    from channels.workers.routing import serving_router

    routing = [route("http.request", consumer_a, path=r"^/poll/$")]
    router = serving_router(routing)
    # The project's own route wins; everything else goes to Django's views.
    assert router.match_content("http.request", {"path": "/poll/"}) == (consumer_a, {})
    consumer, kwargs = router.match_content("http.request", {"path": "/page/"})
    assert type(consumer) is ViewConsumer and kwargs == {}
    # The routing list given is not changed.
    assert len(routing) == 1
    with override_settings(STATIC_URL="/static/"):
        static = serving_router(routing, static_files=True)
    consumer, _ = static.match_content("http.request", {"path": "/page/"})
    assert type(consumer) is StaticFilesConsumer


def test_add_route_appends_so_earlier_routes_win():
    router = Router([route("websocket.receive", consumer_a)])
    router.add_route(route("websocket.receive", consumer_b))
    router.add_route(route("websocket.connect", consumer_b))
    assert router.match_content("websocket.receive", {}) == (consumer_a, {})
    assert router.match_content("websocket.connect", {}) == (consumer_b, {})
