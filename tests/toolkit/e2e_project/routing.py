"""Routing of the end-to-end project."""

from channels.routing import route, route_class

from . import consumers

channel_routing = [
    route("websocket.connect", consumers.ordered_connect, path=r"^/order/$"),
    route("websocket.receive", consumers.ordered_receive, path=r"^/order/$"),
    route("websocket.disconnect", consumers.ordered_disconnect, path=r"^/order/$"),
    route("websocket.receive", consumers.async_ordered_receive, path=r"^/async-order/$"),
    route("websocket.receive", consumers.http_visits, path=r"^/visits/$"),
    route("websocket.connect", consumers.auth_connect, path=r"^/auth/$"),
    route("websocket.receive", consumers.auth_receive, path=r"^/auth/$"),
    route("websocket.receive", consumers.async_http_user, path=r"^/async-user/$"),
    route_class(consumers.Chat, path=r"^/chat/(?P<room>\w+)/$"),
    consumers.Multiplexed.as_route(path=r"^/mux/$"),
    consumers.Raw.as_route(path=r"^/raw/$"),
    route_class(consumers.Events, path=r"^/events/$"),
    route_class(consumers.Poll, path=r"^/poll/$"),
]
