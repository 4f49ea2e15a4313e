"""``channels.test.http``: where Channels 1.0 kept ``HttpClient``."""

from .websocket import HttpClient, WSClient

__all__ = ["HttpClient", "WSClient"]
