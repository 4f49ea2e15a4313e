"""The *_user decorators, login_required and permission_required (sync and async)."""

from django.contrib.auth.models import Permission, User

from channels.test import ChannelTestCase, WSClient


class AuthTests(ChannelTestCase):
    def setUp(self):
        super().setUp()
        self.user = User.objects.create_user("alice", password="secret")

    def test_anonymous_connect_is_closed_with_4001(self):
        client = WSClient()
        client.send_and_consume("websocket.connect", path="/auth/", check_accept=False)
        assert client.receive(json=False) == {"close": 4001}

    def test_login_then_the_user_follows_the_socket(self):
        client = WSClient()
        assert client.login(username="alice", password="secret")
        client.send_and_consume("websocket.connect", path="/auth/")
        # Later frames carry no cookie: the user comes from the channel session.
        client.send_and_consume("websocket.receive", {"text": "x", "headers": []}, path="/auth/")
        assert client.receive(json=False) == "alice"

    def test_wrong_password(self):
        assert not WSClient().login(username="alice", password="nope")

    def test_force_login(self):
        client = WSClient()
        client.force_login(self.user)
        client.send_and_consume("websocket.connect", path="/auth/")

    def test_logout(self):
        client = WSClient()
        client.force_login(self.user)
        client.logout()
        client.send_and_consume("websocket.connect", path="/auth/", check_accept=False)
        assert client.receive(json=False) == {"close": 4001}

    def test_permission_required_closes_with_4003(self):
        client = WSClient()
        client.force_login(self.user)
        client.send_and_consume("websocket.connect", path="/perm/", check_accept=False)
        assert client.receive(json=False) == {"close": 4003}
        self.user.user_permissions.add(Permission.objects.get(codename="add_user"))
        client.send_and_consume("websocket.connect", path="/perm/")

    def test_async_consumers(self):
        client = WSClient()
        client.send_and_consume("websocket.receive", {"text": "x"}, path="/async-http/")
        assert client.receive(json=False) == "anonymous"
        client.force_login(self.user)
        client.send_and_consume("websocket.receive", {"text": "x"}, path="/async-http/")
        assert client.receive(json=False) == "alice"
        client.send_and_consume("websocket.connect", path="/async-auth/")
        client.send_and_consume("websocket.receive", {"text": "x"}, path="/async-auth/")
        assert client.receive(json=False) == "hello alice"

    def test_async_login_required_refuses(self):
        client = WSClient()
        client.send_and_consume("websocket.receive", {"text": "x"}, path="/async-auth/")
        assert client.receive(json=False) == {"close": 4001}
