from channels.routing import include, route, route_class

from . import consumers

chat_routing = [
    route("websocket.connect", consumers.ws_connect, path=r"^/(?P<room>[a-zA-Z0-9_]+)/$"),
    route("websocket.receive", consumers.ws_message),
    route("websocket.disconnect", consumers.ws_disconnect),
]

channel_routing = [
    include(chat_routing, path=r"^/chat"),
    route_class(consumers.ChatDemultiplexer, path=r"^/multi/$"),
    route("chat.log", consumers.log_consumer),
]
