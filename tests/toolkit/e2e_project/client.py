"""The client side of the end-to-end tests, as a process of its own.

    python -m tests.toolkit.e2e_project.client SCENARIO

plays an interface server (sends connect/receive/disconnect messages with
reply channels, reads the replies) and prints one JSON line: the scenario's
result, which the test asserts on.
"""

from __future__ import annotations

import json
import sys
import time

import django


class Socket:
    """One fake WebSocket: a reply channel and the order counter."""

    def __init__(self, server: Server, path: str, cookie: str | None = None, origin=None):
        self.server = server
        self.path = path
        self.reply_channel = server.backend.new_channel(server.inbox)
        self.order = 0
        self.headers = []
        if cookie:
            self.headers.append([b"cookie", cookie.encode()])
        if origin:
            self.headers.append([b"origin", origin.encode()])

    def send(self, channel: str, **content) -> None:
        content.setdefault("order", self.order)
        self.order += 1
        self.server.backend.send(
            channel, {"reply_channel": self.reply_channel, "path": self.path, **content}
        )

    def connect(self) -> dict:
        self.send("websocket.connect", headers=self.headers, query_string=b"")
        return self.receive()

    def text(self, text: str) -> None:
        self.send("websocket.receive", text=text)

    def json(self, data) -> None:
        self.text(json.dumps(data))

    def disconnect(self) -> None:
        self.send("websocket.disconnect", code=1000)

    def receive(self, timeout: float = 30) -> dict | None:
        return self.server.receive(self.reply_channel, timeout)

    def receive_json(self, timeout: float = 30):
        message = self.receive(timeout)
        return None if message is None else json.loads(message["text"])


class Server:
    """Owns the inbox every socket's replies come to, and sorts them out."""

    def __init__(self) -> None:
        from channels import channel_backends

        self.backend = channel_backends["default"]
        self.inbox = "toolkit.client!"
        self.pending: dict[str, list[dict]] = {}

    def receive(self, channel: str, timeout: float) -> dict | None:
        """The next reply to ``channel`` within ``timeout`` seconds (with 0:
        what has already arrived, the inbox read once without waiting)."""
        deadline = time.monotonic() + timeout
        while not self.pending.get(channel):
            left = deadline - time.monotonic()
            name, message = self.backend.receive_many(
                [self.inbox], block=left > 0, timeout=max(left, 0)
            )
            if name is not None:
                self.pending.setdefault(name, []).append(message)
            elif left <= 0:
                return None
        return self.pending[channel].pop(0)

    def wait_for_membership(
        self, group: str, channel: str, member: bool = True, timeout: float = 30
    ) -> None:
        """Wait until ``channel`` is (or, ``member`` false, is no longer) in
        ``group``: a worker's group_add/group_discard, seen from here."""
        deadline = time.monotonic() + timeout
        while (channel in self.backend.group_channels(group)) != member:
            if time.monotonic() > deadline:
                raise AssertionError(f"{channel} member={member} of {group}: not in {timeout}s")
            time.sleep(0.02)


def login_cookie(username: str) -> str:
    """Log ``username`` in to a new Django session; return its cookie."""
    from django.conf import settings
    from django.contrib.auth import login
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    user, _ = User.objects.get_or_create(username=username)
    request = HttpRequest()
    request.session = __import__(settings.SESSION_ENGINE, fromlist=["x"]).SessionStore()
    login(request, user, "django.contrib.auth.backends.ModelBackend")
    request.session.save()
    return f"{settings.SESSION_COOKIE_NAME}={request.session.session_key}"


# --- scenarios ---------------------------------------------------------------


def ordering(server: Server, count: str = "60") -> dict:
    """``count`` rapid messages on one socket; the replies in arrival order."""
    sock = Socket(server, "/order/")
    accepted = sock.connect()
    for n in range(int(count)):
        sock.text(str(n))
    replies = [sock.receive_json(timeout=60) for _ in range(int(count))]
    sock.disconnect()
    bye = sock.receive_json(timeout=60)
    return {"accepted": accepted, "replies": replies, "bye": bye}


def async_ordering(server: Server) -> dict:
    sock = Socket(server, "/async-order/")
    sock.order = 1  # its connect is not routed: nothing to send
    for n in range(20):
        sock.text(str(n))
    return {"orders": [(sock.receive_json() or {}).get("order") for _ in range(20)]}


def sessions_and_auth(server: Server) -> dict:
    result = {}
    cookie = login_cookie("alice")
    visits = Socket(server, "/visits/", cookie=cookie)
    result["visits"] = []
    for _ in range(3):
        visits.send("websocket.receive", text="x", headers=visits.headers)
        result["visits"].append(visits.receive_json()["visits"])
    anonymous = Socket(server, "/auth/", origin="http://good.example")
    result["anonymous"] = anonymous.connect()
    foreign = Socket(server, "/auth/", cookie=cookie, origin="http://evil.example")
    result["foreign"] = foreign.connect()
    alice = Socket(server, "/auth/", cookie=cookie, origin="http://good.example")
    result["alice"] = alice.connect()
    alice.text("who am I")
    result["alice_user"] = alice.receive_json()["user"]
    user = Socket(server, "/async-user/", cookie=cookie)
    user.send("websocket.receive", text="x", headers=user.headers)
    result["async_user"] = user.receive_json()["user"]
    return result


def classes(server: Server) -> dict:
    result = {}
    alice, bob, carol = (login_cookie(n) for n in ("alice", "bob", "carol"))
    blue_a = Socket(server, "/chat/blue/", cookie=alice)
    blue_b = Socket(server, "/chat/blue/", cookie=bob)
    red_c = Socket(server, "/chat/red/", cookie=carol)
    stranger = Socket(server, "/chat/blue/")
    result["accepts"] = [s.connect() for s in (blue_a, blue_b, red_c)]
    result["stranger"] = stranger.connect()
    blue_a.json({"say": "hi blue"})
    result["blue"] = [blue_a.receive_json(), blue_b.receive_json()]
    result["red_got"] = red_c.receive(timeout=1)
    blue_b.disconnect()
    # The disconnect's group_discard runs on some worker: wait for it.
    server.wait_for_membership("e2e-room-blue", blue_b.reply_channel, member=False)
    blue_a.json({"say": "alone"})
    result["after_leave"] = [blue_a.receive_json(), blue_b.receive(timeout=1)]

    mux = Socket(server, "/mux/")
    result["mux_connect"] = [mux.connect(), mux.receive_json()]
    mux.json({"stream": "echo", "payload": {"a": 1}})
    mux.json({"stream": "upper", "payload": {"text": "shout"}})
    replies = [mux.receive_json(), mux.receive_json()]
    result["mux"] = sorted(replies, key=lambda r: r["stream"])

    raw = [Socket(server, "/raw/"), Socket(server, "/raw/")]
    result["raw_connect"] = [r.connect() for r in raw]
    raw[0].text("olleh")
    raw[0].send("websocket.receive", bytes=b"\x01\x02")
    # Raw has no strict_ordering: the two frames may be answered in any order.
    frames = [raw[0].receive(), raw[0].receive()]
    result["raw"] = sorted(f.get("text") or f["bytes"].hex() for f in frames)
    raw[0].disconnect()
    result["raw_left"] = raw[1].receive()["text"]
    return result


def http(server: Server) -> dict:
    from channels.generic.http import LongPollConsumer, ServerSentEventsConsumer

    result = {}
    events = Socket(server, "/events/")
    events.send("http.request", method="GET", headers=[], body=b"", query_string=b"")
    result["headers"] = events.receive()
    server.wait_for_membership("e2e-events", events.reply_channel)
    ServerSentEventsConsumer.group_send_event("e2e-events", "tick", event="clock", id="1")
    result["event"] = events.receive()
    poll = Socket(server, "/poll/")
    poll.send("http.request", method="GET", headers=[], body=b"", query_string=b"")
    # The worker took the request (it joined the group) and held it: nothing
    # has come back yet.
    server.wait_for_membership("e2e-poll", poll.reply_channel)
    result["before"] = poll.receive(timeout=0)
    LongPollConsumer.group_respond("e2e-poll", b'{"news": 1}')
    result["poll"] = poll.receive()
    return result


SCENARIOS = {
    "ordering": ordering,
    "async_ordering": async_ordering,
    "sessions_and_auth": sessions_and_auth,
    "classes": classes,
    "http": http,
}


def main() -> None:
    django.setup()
    server = Server()
    result = SCENARIOS[sys.argv[1]](server, *sys.argv[2:])
    print(json.dumps(result, default=lambda b: b.decode("latin-1")), flush=True)


if __name__ == "__main__":
    main()
