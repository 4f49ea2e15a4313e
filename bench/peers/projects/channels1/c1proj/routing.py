from channels.routing import route

from . import consumers

ECHO = r"^/ws/echo/$"
BROADCAST = r"^/ws/broadcast/$"

channel_routing = [
    route("websocket.connect", consumers.accept, path=ECHO),
    route("websocket.receive", consumers.echo_receive, path=ECHO),
    route("websocket.disconnect", consumers.nothing, path=ECHO),
    route("websocket.connect", consumers.broadcast_connect, path=BROADCAST),
    route("websocket.receive", consumers.broadcast_receive, path=BROADCAST),
    route("websocket.disconnect", consumers.broadcast_disconnect, path=BROADCAST),
]
