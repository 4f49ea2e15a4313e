"""``channels.tests.base``: the Channels 1.0 home of the test case and client."""

from ..test.base import (
    ChannelTestCase,
    ChannelTestCaseMixin,
    Client,
    TransactionChannelTestCase,
    apply_routes,
)

__all__ = [
    "ChannelTestCase",
    "ChannelTestCaseMixin",
    "TransactionChannelTestCase",
    "Client",
    "apply_routes",
]
