"""WebSocket consumers of the Channels 4 peer: echo and group broadcast.

Sync consumers, the Channels 4 equivalent of the 1.x consumer functions.
"""

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

GROUP = "bench"


class EchoConsumer(WebsocketConsumer):
    def receive(self, text_data=None, bytes_data=None):
        if text_data is not None:
            self.send(text_data=text_data)
        else:
            self.send(bytes_data=bytes_data)


class BroadcastConsumer(WebsocketConsumer):
    """Joins the group on connect; any text it receives goes to the whole group."""

    def connect(self):
        async_to_sync(self.channel_layer.group_add)(GROUP, self.channel_name)
        self.accept()

    def disconnect(self, code):
        async_to_sync(self.channel_layer.group_discard)(GROUP, self.channel_name)

    def receive(self, text_data=None, bytes_data=None):
        async_to_sync(self.channel_layer.group_send)(
            GROUP, {"type": "bench.message", "text": text_data or ""}
        )

    def bench_message(self, event):
        self.send(text_data=event["text"])
