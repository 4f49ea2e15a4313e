"""``channels.tests``: the Channels 1.0 name of :mod:`channels.test`.

Channels 1.1 moved the test helpers to ``channels.test`` and kept this
package as an alias that warns; so does this one. ``channels.tests.base``
and ``channels.tests.http`` are there too.
"""

import warnings

from ..test import (
    ChannelLiveServerTestCase,
    ChannelTestCase,
    Client,
    HttpClient,
    TransactionChannelTestCase,
    WSClient,
    apply_routes,
)

warnings.warn(
    "channels.tests is deprecated (as in Channels 1.1): import from channels.test",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "ChannelLiveServerTestCase",
    "ChannelTestCase",
    "TransactionChannelTestCase",
    "Client",
    "HttpClient",
    "WSClient",
    "apply_routes",
]
