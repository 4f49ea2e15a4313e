"""Test helpers for projects (the Channels 1.x ``channels.test`` API).

``ChannelTestCase`` runs every configured backend alias on an in-memory
backend for the duration of each test; ``Client`` sends messages, runs
consumers through the project's routing, and reads replies::

    class ChatTests(ChannelTestCase):
        def test_echo(self):
            client = Client()
            client.send_and_consume("websocket.receive", {"text": "hi"})
            self.assertEqual(client.receive(), {"text": "hi"})
"""

from .base import ChannelTestCase, ChannelTestCaseMixin, TransactionChannelTestCase
from .client import Client

__all__ = ["ChannelTestCase", "ChannelTestCaseMixin", "TransactionChannelTestCase", "Client"]
