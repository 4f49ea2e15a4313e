"""permessage-deflate negotiation: whatever parameters a client offers, the
handshake succeeds and large compressible messages round-trip."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from .harness import run

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    "offer",
    [
        {},  # plain offer
        {"server_max_window_bits": 9},  # the client caps our window below ours
        {"server_max_window_bits": 15, "client_max_window_bits": True},
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
    ],
)
def test_deflate_offers_are_accepted_and_messages_round_trip(fast_stack, offer):
    _, port = fast_stack.start_server()
    text = ("the quick brown fox jumps over the lazy dog " * 3000)[:100_000]

    async def scenario():
        factory = ClientPerMessageDeflateFactory(**offer)
        async with connect(
            f"ws://127.0.0.1:{port}/echo/", extensions=[factory], compression=None, max_size=None
        ) as ws:
            assert "permessage-deflate" in (
                ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            )
            for _ in range(3):
                await ws.send(text)
                assert await ws.recv() == text

    run(scenario())
