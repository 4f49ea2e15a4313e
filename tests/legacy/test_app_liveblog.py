"""The liveblog project (tests/legacy/liveblog) through real processes:
``runwsserver --accept-all`` + ``runworker``, on the database backend and on
Redis, its settings in 1.x form. Posts saved through the ORM in another
process reach every reader (``post_save`` -> ``Group.send``) and a waiting
long poll (``ResponseLater``); readers' own frames, which nothing routes,
are dropped without holding anything up; the page is served over HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed

from .harness import running_project

pytestmark = pytest.mark.timeout(300)
WAIT = 30


BLOG = (
    "from tests.legacy.liveblog.posts.models import Liveblog\n"
    "Liveblog.objects.create(title='Keynote', slug='keynote')"
)


@pytest.fixture(params=["database", "redis"])
def blog(request, tmp_path):
    with running_project(tmp_path, request.param, "tests.legacy.liveblog.settings", BLOG) as p:
        yield p


def post(blog, body: str) -> None:
    """Save a post through the ORM, in a process of its own."""
    blog.shell(
        "from tests.legacy.liveblog.posts.models import Liveblog, Post\n"
        f"Post.objects.create(liveblog=Liveblog.objects.get(slug='keynote'), body={body!r})"
    )


def receive(socket, blog) -> dict:
    try:
        return json.loads(socket.recv(timeout=WAIT))
    except TimeoutError:
        raise AssertionError(f"no post in {WAIT} s\n{blog.logs()}") from None


def get(blog, path: str) -> bytes:
    with urllib.request.urlopen(blog.url + path, timeout=WAIT) as response:
        assert response.status == 200
        return response.read()


def test_posts_reach_readers_and_long_polls(blog):
    page = get(blog, "/liveblog/keynote/").decode()
    assert '<script src="/static/channels/js/websocketbridge.js">' in page
    assert b"WebSocketBridge" in get(blog, "/static/channels/js/websocketbridge.js")

    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(blog.socket("/liveblog/keynote/stream/")) for _ in range(3)]
        polled: list[bytes] = []
        poll = threading.Thread(target=lambda: polled.append(get(blog, "/liveblog/keynote/next/")))
        poll.start()
        # The long poll is parked (no response) until a post is saved.
        poll.join(timeout=2)
        assert poll.is_alive() and not polled

        post(blog, "first post")
        notes = [receive(reader, blog) for reader in readers]
        assert notes[0]["body"] == "first post" and all(n == notes[0] for n in notes)
        poll.join(timeout=WAIT)
        assert json.loads(polled[0]) == notes[0]

        # A reader typing into a push-only socket: nothing routes
        # websocket.receive, and the default consumers drop it all.
        for i in range(300):
            readers[0].send(json.dumps({"post": f"typed {i}"}))
        post(blog, "second post")
        assert [receive(reader, blog)["body"] for reader in readers] == ["second post"] * 3

    page = get(blog, "/liveblog/keynote/").decode()
    assert page.index("second post") < page.index("first post")


def test_an_unknown_blog_gets_its_error_text_then_a_close(blog):
    with blog.socket("/liveblog/nope/stream/") as socket:
        assert json.loads(socket.recv(timeout=WAIT)) == {"error": "bad_slug"}
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=WAIT)
