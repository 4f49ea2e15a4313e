"""Channel routing of the chat demo; http.request goes to Django views by default."""

from channels.routing import route

from . import consumers

ROOM_PATH = r"^/chat/(?P<room>[-\w]+)/$"

channel_routing = [
    route("websocket.connect", consumers.ws_connect, path=ROOM_PATH),
    route("websocket.receive", consumers.ws_receive, path=ROOM_PATH),
    route("websocket.disconnect", consumers.ws_disconnect, path=ROOM_PATH),
]
