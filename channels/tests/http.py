"""``channels.tests.http``: the Channels 1.0 home of ``HttpClient``."""

from ..test.http import HttpClient, WSClient

__all__ = ["HttpClient", "WSClient"]
