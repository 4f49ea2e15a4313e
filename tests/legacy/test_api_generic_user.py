"""Generic consumers' ``http_user`` / ``http_user_and_session``: the session
user on every message, not only on connect (as in 1.x).

In process with ``WSClient`` (which sends the cookie with every message, as
1.x's did), and through a real ``runwsserver`` + ``runworker`` where only
the handshake carries the cookie.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from channels.test import ChannelTestCase, WSClient, apply_routes

from .conftest import BINDING_APPS
from .harness import LegacyProject

with override_settings(INSTALLED_APPS=BINDING_APPS):
    from .databinding.whoami import WhoAmI, WhoAmIWithSession

SETTINGS = {
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "SESSION_ENGINE": "django.contrib.sessions.backends.db",
}


@override_settings(**SETTINGS)
@apply_routes(
    [WhoAmI.as_route(path=r"^/whoami/$"), WhoAmIWithSession.as_route(path=r"^/whoami-session/$")]
)
class InProcessTests(ChannelTestCase):
    def setUp(self):
        User.objects.create_user(username="ann", password="pw")

    def test_user_on_connect_receive_and_disconnect(self):
        client = WSClient()
        client.login(username="ann", password="pw")
        client.send_and_consume("websocket.connect", path="/whoami/")
        self.assertEqual(client.receive(), {"on": "connect", "user": "ann"})
        # A frame as a server sends it: no headers, so no cookie.
        consumer = client.send_and_consume(
            "websocket.receive", {"headers": []}, text="{}", path="/whoami/"
        )
        self.assertEqual(client.receive(), {"on": "receive", "user": "ann"})
        self.assertIsNone(consumer.message.http_session)
        consumer = client.send_and_consume(
            "websocket.disconnect", {"code": 1000, "headers": []}, path="/whoami/"
        )
        self.assertEqual(consumer.message.user.get_username(), "ann")

    def test_a_login_after_connect_is_seen_on_the_next_message(self):
        client = WSClient()
        client.send_and_consume("websocket.connect", path="/whoami/")
        self.assertEqual(client.receive(), {"on": "connect", "user": ""})
        client.login(username="ann", password="pw")
        client.send_and_consume("websocket.receive", text="{}", path="/whoami/")
        self.assertEqual(client.receive(), {"on": "receive", "user": "ann"})

    def test_http_user_and_session_gives_the_session_on_every_message(self):
        client = WSClient()
        client.login(username="ann", password="pw")
        client.session["colour"] = "green"
        client.session.save()
        client.send_and_consume("websocket.connect", path="/whoami-session/")
        self.assertEqual(client.receive(), {"on": "connect", "user": "ann"})
        client.send_and_consume(
            "websocket.receive", {"headers": []}, text="{}", path="/whoami-session/"
        )
        self.assertEqual(client.receive(), {"on": "receive", "user": "ann", "colour": "green"})


LOGIN = """
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
user = User.objects.create_user(username="{name}", password="pw")
request = HttpRequest()
request.session = SessionStore()
login(request, user, "django.contrib.auth.backends.ModelBackend")
request.session["colour"] = "blue"
request.session.save()
print(request.session.session_key)
"""


@pytest.fixture(params=["database", "redis"])
def project(request, tmp_path):
    running = LegacyProject(tmp_path, request.param)
    yield running
    running.stop()


def replies(socket, project, count):
    out = []
    for _ in range(count):
        try:
            out.append(json.loads(socket.recv(timeout=30)))
        except TimeoutError:
            raise AssertionError(f"no reply in 30 s\n{project.logs()}") from None
    return out


def test_the_session_user_on_every_frame_through_a_real_server(project):
    key = project.shell(LOGIN.format(name="bea")).strip().splitlines()[-1]
    cookie = {"Cookie": f"sessionid={key}"}
    with project.socket("/whoami/", cookie) as socket:
        socket.send("{}")
        socket.send("{}")
        assert replies(socket, project, 3) == [
            {"on": "connect", "user": "bea"},
            {"on": "receive", "user": "bea"},
            {"on": "receive", "user": "bea"},
        ]
    with project.socket("/whoami-session/", cookie) as socket:
        socket.send("{}")
        assert replies(socket, project, 2) == [
            {"on": "connect", "user": "bea"},
            {"on": "receive", "user": "bea", "colour": "blue"},
        ]
    with project.socket("/whoami/") as anonymous:
        anonymous.send("{}")
        assert [r["user"] for r in replies(anonymous, project, 2)] == ["", ""]
