"""The same chat as a class, plus a multiplexed socket."""

from channels.generic.websockets import JsonWebsocketConsumer, WebsocketDemultiplexer


class Room(JsonWebsocketConsumer):
    http_user = True  # message.user on every message
    login_required = True  # others are closed with login_close_code (4001)
    strict_ordering = True  # frames of one socket in order

    def connection_groups(self, room):
        # Joined at connect, left at disconnect.
        return [f"room-{room}"]

    def receive(self, content, room):
        self.group_send(f"room-{room}", {"user": self.message.user.get_username(), **content})


class Echo(JsonWebsocketConsumer):
    def receive(self, content, multiplexer, **kwargs):
        multiplexer.send({"echo": content})


class Clock(JsonWebsocketConsumer):
    def connection_groups(self, **kwargs):
        return ["clock"]


class Dashboard(WebsocketDemultiplexer):
    """Frames are {"stream": ..., "payload": {...}}; each stream has a consumer."""

    consumers = {"echo": Echo, "clock": Clock}


channel_routing = [
    Room.as_route(path=r"^/rooms/(?P<room>\w+)/$"),
    Dashboard.as_route(path=r"^/dashboard/$"),
]
