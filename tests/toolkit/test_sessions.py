"""channel_session, http_session and channel_and_http_session, on every session engine."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from channels.session_store import channel_key, session_for_reply_channel
from channels.test import ChannelTestCase, WSClient

ENGINES = {
    "db": {"SESSION_ENGINE": "django.contrib.sessions.backends.db"},
    "cache": {"SESSION_ENGINE": "django.contrib.sessions.backends.cache"},
    "cached_db": {"SESSION_ENGINE": "django.contrib.sessions.backends.cached_db"},
    "file": {"SESSION_ENGINE": "django.contrib.sessions.backends.file"},
}


class ChannelSessionTests(ChannelTestCase):
    engine = "db"

    def setUp(self):
        super().setUp()
        extra = dict(ENGINES[self.engine])
        if self.engine == "file":
            import tempfile

            extra["SESSION_FILE_PATH"] = tempfile.mkdtemp()
        self.settings_override = override_settings(**extra)
        self.settings_override.enable()
        self.addCleanup(self.settings_override.disable)

    def test_lives_per_reply_channel_and_dies_with_the_connection(self):
        first, second = WSClient(), WSClient()
        first.send_and_consume("websocket.connect", path="/count/")
        second.send_and_consume("websocket.connect", path="/count/")
        for expected in ("1", "2", "3"):
            first.send_and_consume("websocket.receive", {"text": "+"}, path="/count/")
            assert first.receive(json=False) == expected
        second.send_and_consume("websocket.receive", {"text": "+"}, path="/count/")
        assert second.receive(json=False) == "1"
        first.send_and_consume("websocket.disconnect", {"code": 1000}, path="/count/")
        assert self.get_next_message("test.disconnected", require=True)["count"] == 3
        # Gone with the connection.
        assert dict(session_for_reply_channel(first.reply_channel)) == {}

    def test_a_failing_consumer_does_not_save(self):
        client = WSClient(raise_exceptions=False)
        client.send_and_consume("websocket.connect", path="/count/")
        client.send_and_consume("websocket.receive", {"text": "fail"}, path="/count/")
        assert client.receive() is None
        client.send_and_consume("websocket.receive", {"text": "+"}, path="/count/")
        assert client.receive(json=False) == "1"

    def test_key_is_valid_for_every_engine(self):
        key = channel_key("chn", "daphne.response.abc!def")
        assert len(key) == 32 and key.isalnum() and key.islower()


class CacheSessionTests(ChannelSessionTests):
    engine = "cache"


class CachedDbSessionTests(ChannelSessionTests):
    engine = "cached_db"


class FileSessionTests(ChannelSessionTests):
    engine = "file"


class HttpSessionTests(ChannelTestCase):
    def test_no_cookie_no_session(self):
        client = WSClient()
        client.send_and_consume("websocket.receive", {"text": "x"}, path="/http/")
        assert client.receive() is None

    def test_session_from_cookie_is_saved_when_modified(self):
        client = WSClient()
        key = client.session.session_key
        for visits in (1, 2):
            client.send_and_consume("websocket.receive", {"text": "x"}, path="/http/")
            assert client.receive() == {"key": key, "visits": visits}

    def test_session_from_query_string(self):
        session = SessionStore()
        session["visits"] = 10
        session.save()
        client = WSClient()
        client.send_and_consume(
            "websocket.receive", {"text": "x"}, path=f"/http/?session_key={session.session_key}"
        )
        assert client.receive()["visits"] == 11

    def test_on_http_requests(self):
        client = WSClient()
        client.session  # noqa: B018 - creates the session cookie
        client.send_and_consume("http.request", {"method": "GET"}, path="/http/")
        assert client.receive()["visits"] == 1

    def test_channel_and_http_session_remembers_the_key(self):
        client = WSClient()
        session = client.session
        session["color"] = "blue"
        session.save()
        client.send_and_consume("websocket.connect", path="/both/", check_accept=False)
        assert client.receive() == "blue"
        # Later messages carry no cookie: the key comes from the channel session.
        client.send_and_consume("websocket.receive", {"text": "x", "headers": []}, path="/both/")
        assert client.receive() == "blue"


@pytest.mark.own_settings
def test_signed_cookie_sessions_are_refused_clearly(channels_databases):
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        with pytest.raises(ImproperlyConfigured, match="signed-cookie"):
            session_for_reply_channel("test.reply!abc")


@pytest.mark.own_settings
def test_channel_session_engine_setting_wins(channels_databases):
    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        CHANNEL_SESSION_ENGINE="django.contrib.sessions.backends.cache",
    ):
        store = session_for_reply_channel("test.reply!abc")
        assert type(store).__module__ == "django.contrib.sessions.backends.cache"
