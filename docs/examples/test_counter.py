"""How a project tests its consumers: no sockets, no worker processes."""

from channels.test import ChannelTestCase, WSClient, apply_routes

from . import counter


class CounterTests(ChannelTestCase):
    @apply_routes(counter.channel_routing)
    def test_counts(self):
        client = WSClient(ordered=True)  # numbers messages as a server does
        client.send_and_consume("websocket.connect", path="/count/")
        for expected in (1, 2, 3):
            client.send_and_consume("websocket.receive", text="+", path="/count/")
            self.assertEqual(client.receive(), expected)
