"""Test helpers for projects (the Channels 1.x ``channels.test`` API).

``ChannelTestCase`` runs every configured backend alias on an in-memory
backend for the duration of each test; ``Client`` sends messages, runs
consumers through the project's routing, and reads replies; ``WSClient``
adds paths, headers, cookies and login; ``apply_routes`` swaps the routing;
``ChannelLiveServerTestCase`` runs a real interface server and worker for
browser tests::

    class ChatTests(ChannelTestCase):
        def test_echo(self):
            client = WSClient()
            client.send_and_consume("websocket.connect", path="/chat/")
            client.send_and_consume("websocket.receive", text={"say": "hi"}, path="/chat/")
            self.assertEqual(client.receive(), {"said": "hi"})
"""

from .base import ChannelTestCase, ChannelTestCaseMixin, TransactionChannelTestCase
from .client import Client
from .liveserver import ChannelLiveServerTestCase
from .routes import apply_routes
from .websocket import HttpClient, WSClient

__all__ = [
    "ChannelLiveServerTestCase",
    "ChannelTestCase",
    "ChannelTestCaseMixin",
    "TransactionChannelTestCase",
    "Client",
    "WSClient",
    "HttpClient",
    "apply_routes",
]
