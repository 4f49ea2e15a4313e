"""Routing of the multichat project (1.x style)."""

from channels import route, route_class

from .consumers import ChatDemultiplexer, ws_connect_login_check

channel_routing = [
    route_class(ChatDemultiplexer, path=r"^/chat/$"),
    # A plain function consumer: who am I, as the handshake carried it.
    route("websocket.connect", ws_connect_login_check, path=r"^/whoami/$"),
]
