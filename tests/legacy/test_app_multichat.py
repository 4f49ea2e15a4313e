"""The multichat project (tests/legacy/multichat) through real processes:
``runwsserver --accept-all`` + ``runworker``, on the database backend and on
Redis, its settings in 1.x form (``CHANNEL_LAYERS``). Users log in over
HTTP; their sockets carry the session cookie; one WebSocket per user is
demultiplexed into the ``rooms`` and ``who`` streams."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from ..processes import wait_until
from .harness import running_project

pytestmark = pytest.mark.timeout(300)
WAIT = 30


USERS = (
    "from django.contrib.auth.models import User\n"
    "User.objects.create_user('ann', password='pw-ann')\n"
    "User.objects.create_user('bob', password='pw-bob')"
)


@pytest.fixture(params=["database", "redis"])
def chat(request, tmp_path):
    with running_project(tmp_path, request.param, "tests.legacy.multichat.settings", USERS) as p:
        yield p


def log_in(chat, username: str, password: str) -> str:
    """POST the login form; the ``Cookie`` header a browser would send next."""
    data = urllib.parse.urlencode({"username": username, "password": password}).encode()
    with urllib.request.urlopen(chat.url + "/login/", data=data, timeout=WAIT) as response:
        assert response.read() == b"logged in"
        cookie = response.headers["Set-Cookie"]
    return cookie.split(";", 1)[0]


def receive(socket, chat, stream: str | None = None) -> dict:
    """The next frame (``{"stream", "payload"}``), optionally of one stream."""
    while True:
        try:
            frame = json.loads(socket.recv(timeout=WAIT))
        except TimeoutError:
            raise AssertionError(f"no frame in {WAIT} s\n{chat.logs()}") from None
        if stream is None or frame.get("stream") == stream:
            return frame


def send(socket, stream: str, payload: dict) -> None:
    socket.send(json.dumps({"stream": stream, "payload": payload}))


def group_size(chat, group: str) -> int:
    members = f"channel_layers['default'].group_channels({group!r})"
    output = chat.shell(f"from channels import channel_layers\nprint(len({members}))")
    return int(output.split()[-1])


def test_rooms_logins_and_streams(chat):
    ann_cookie = log_in(chat, "ann", "pw-ann")
    bob_cookie = log_in(chat, "bob", "pw-bob")
    with (
        chat.socket("/chat/", headers={"Cookie": ann_cookie}) as ann,
        chat.socket("/chat/", headers={"Cookie": bob_cookie}) as bob,
        chat.socket("/chat/") as anonymous,
    ):
        # Each stream's consumer saw the connect; the login came from the cookie.
        assert receive(ann, chat, "rooms") == {"stream": "rooms", "payload": {"hello": "ann"}}
        assert receive(bob, chat, "rooms")["payload"] == {"hello": "bob"}
        assert receive(anonymous, chat, "rooms")["payload"] == {"hello": None}

        send(ann, "rooms", {"join": "blue"})
        assert receive(ann, chat)["payload"] == {"room": "blue", "joined": "ann"}
        send(bob, "rooms", {"join": "blue"})
        for socket in (ann, bob):
            assert receive(socket, chat)["payload"] == {"room": "blue", "joined": "bob"}

        send(bob, "rooms", {"room": "blue", "say": "hello ann"})
        for socket in (ann, bob):
            assert receive(socket, chat) == {
                "stream": "rooms",
                "payload": {"room": "blue", "user": "bob", "say": "hello ann"},
            }

        # The channel session keeps user and rooms across frames and streams.
        send(ann, "who", {})
        who = {"user": "ann", "rooms": ["blue"]}
        assert receive(ann, chat) == {"stream": "who", "payload": who}
        send(anonymous, "rooms", {"join": "blue"})
        assert receive(anonymous, chat)["payload"] == {"error": "login required"}
        send(ann, "rooms", {"room": "green", "say": "nobody hears"})
        assert receive(ann, chat)["payload"] == {"error": "not in room green"}

        send(ann, "rooms", {"leave": "blue"})
        assert receive(ann, chat)["payload"] == {"room": "blue", "left": "ann"}
        assert receive(bob, chat)["payload"] == {"room": "blue", "left": "ann"}
        send(bob, "rooms", {"room": "blue", "say": "alone"})
        assert receive(bob, chat)["payload"]["say"] == "alone"

    # websocket.disconnect took bob's socket out of the room's group.
    wait_until(lambda: group_size(chat, "room-blue") == 0, timeout=WAIT)


def test_a_function_consumer_sees_the_login_of_the_handshake(chat):
    cookie = log_in(chat, "ann", "pw-ann")
    with chat.socket("/whoami/", headers={"Cookie": cookie}) as socket:
        assert json.loads(socket.recv(timeout=WAIT)) == {"user": "ann"}
    with chat.socket("/whoami/") as socket:
        assert json.loads(socket.recv(timeout=WAIT)) == {"user": None}
