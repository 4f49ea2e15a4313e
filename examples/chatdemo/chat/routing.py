"""Channel routing of the chat demo; HTTP requests go to Django views by default."""

from .consumers import ChatRoom

ROOM_PATH = r"^/chat/(?P<room>[-\w]+)/$"

channel_routing = [
    ChatRoom.as_route(path=ROOM_PATH),
]
