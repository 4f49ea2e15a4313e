"""Where ``http_session`` takes the session key from: a ``session_key`` query
parameter counts on WebSocket handshakes (as in Channels 1.x, for sockets to
another domain, which cannot carry the site's cookie) and, by default, not
on plain HTTP requests, where it would put session IDs in URLs and logs and
let a link fix a visitor's session. ``CHANNELS_SESSION_KEY_IN_QUERY_STRING``
turns it on for HTTP too (``True``) or off everywhere (``False``).

First through real ``runwsserver`` and ``runworker`` processes of
``tests/toolkit/bounds_project``, with real HTTP and WebSocket clients; then
the setting's other values in one process."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from websockets.asyncio.client import connect

from channels.test import ChannelTestCase, WSClient
from tests.processes import manage

from .ordering_flood import start

MAKE_SESSION = (
    "from django.contrib.sessions.backends.db import SessionStore;"
    "s = SessionStore(); s['owner'] = '{owner}'; s.save(); print(s.session_key)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bounds project, one worker, and two sessions in its database."""
    tmp = tmp_path_factory.mktemp("session-key")
    stack, port = start(tmp, "redis", workers=1)
    try:
        keys = {}
        for owner in ("cookie", "query"):
            made = subprocess.run(
                manage("shell", "-c", MAKE_SESSION.format(owner=owner)),
                env=stack.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            keys[owner] = made.stdout.strip().splitlines()[-1]
        yield port, keys
    finally:
        stack.stop()


def http_session_seen(port: int, query: str = "", cookie: str | None = None):
    cookies = {"sessionid": cookie} if cookie else None
    reply = requests.get(f"http://127.0.0.1:{port}/session/{query}", cookies=cookies, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def websocket_session_seen(port: int, query: str = "", cookie: str | None = None):
    async def handshake():
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        url = f"ws://127.0.0.1:{port}/session/{query}"
        async with connect(url, additional_headers=headers) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 30))

    return asyncio.run(handshake())


def test_websocket_handshake_takes_the_key_from_the_query_string(served):
    port, keys = served
    seen = websocket_session_seen(port, f"?session_key={keys['query']}")
    assert seen == {"key": keys["query"], "owner": "query"}


def test_websocket_query_key_wins_over_the_cookie_as_in_1x(served):
    port, keys = served
    seen = websocket_session_seen(port, f"?session_key={keys['query']}", cookie=keys["cookie"])
    assert seen["owner"] == "query"
    assert websocket_session_seen(port, cookie=keys["cookie"])["owner"] == "cookie"


def test_http_request_ignores_the_query_string_key(served):
    port, keys = served
    assert http_session_seen(port, f"?session_key={keys['query']}") is None
    seen = http_session_seen(port, f"?session_key={keys['query']}", cookie=keys["cookie"])
    assert seen == {"key": keys["cookie"], "owner": "cookie"}


class SessionKeySettingTests(ChannelTestCase):
    """The other values of CHANNELS_SESSION_KEY_IN_QUERY_STRING (routes of
    ``tests.toolkit.consumers``: ``/http/`` echoes the HTTP session)."""

    def setUp(self):
        super().setUp()
        self.session = SessionStore()
        self.session["visits"] = 10
        self.session.save()
        self.path = f"/http/?session_key={self.session.session_key}"

    def visits(self, channel: str):
        client = WSClient()
        client.send_and_consume(channel, {"text": "x", "method": "GET"}, path=self.path)
        seen = client.receive()
        return None if seen is None else seen["visits"]

    def test_default_is_websocket_only(self):
        assert self.visits("websocket.receive") == 11
        assert self.visits("http.request") is None

    @override_settings(CHANNELS_SESSION_KEY_IN_QUERY_STRING=True)
    def test_true_allows_it_on_http_requests_too(self):
        assert self.visits("http.request") == 11

    @override_settings(CHANNELS_SESSION_KEY_IN_QUERY_STRING=False)
    def test_false_turns_it_off_for_websockets_too(self):
        assert self.visits("websocket.receive") is None

    @override_settings(CHANNELS_SESSION_KEY_IN_QUERY_STRING="http")
    def test_anything_else_is_a_clear_error(self):
        with pytest.raises(ImproperlyConfigured, match="CHANNELS_SESSION_KEY_IN_QUERY_STRING"):
            self.visits("websocket.receive")
