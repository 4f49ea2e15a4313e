"""Routing of the bounds project."""

from channels.routing import route

from . import consumers

channel_routing = [
    route("websocket.connect", consumers.ordered_connect, path=r"^/ordered/$"),
    route("websocket.receive", consumers.ordered_receive, path=r"^/ordered/$"),
    route("websocket.disconnect", consumers.ordered_disconnect, path=r"^/ordered/$"),
    route("websocket.connect", consumers.session_connect, path=r"^/session/$"),
    route("http.request", consumers.session_request, path=r"^/session/$"),
]
