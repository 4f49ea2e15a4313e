"""The worker's turn: a consumer's replies go out with the next receive.

A ``Worker`` runs in a thread on a real backend (Redis on CHANNELS_TEST_REDIS,
and the in-memory one); the test talks to it through the backend only. What
must hold whatever the worker batches: replies arrive in order and without
waiting for a next message, a full channel is waited for as the outbox
waits, a reply that cannot be sent is handled as a failing consumer, group
sends keep their place, and ``stop()`` sends what is held before returning.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

import pytest
from django.test import override_settings

from channels import Channel, Group
from channels.backends.memory import InMemoryChannelBackend
from channels.backends.redis import RedisChannelBackend
from channels.handler import ViewConsumer
from channels.outbox import FULL_RETRY_SECONDS
from channels.routing import Router, route
from channels.workers.worker import Worker

from ..services import REDIS_URL, require_redis

#: The worker of the running test, for consumers that stop it.
current: list[Worker] = []


def two_replies(message):
    reply = Channel(message.content["reply"], channel_backend=message.channel_backend)
    reply.send({"n": message.content["n"], "part": 1})
    reply.send({"n": message.content["n"], "part": 2})


def reply_then_stop(message):
    current[0].stop()
    Channel(message.content["reply"], channel_backend=message.channel_backend).send({"last": True})


def unencodable_reply(message):
    message.reply_channel.send({"status": 200, "content": object()})


def channel_group_channel(message):
    backend, reply = message.channel_backend, message.content["reply"]
    Channel(reply, channel_backend=backend).send({"n": 1})
    Group(message.content["group"], channel_backend=backend).send({"n": 2})
    Channel(reply, channel_backend=backend).send({"n": 3})


ROUTES = [
    route("turns.two", two_replies),
    route("turns.stop", reply_then_stop),
    route("turns.group", channel_group_channel),
    route("http.request", unencodable_reply),
]


@pytest.fixture(params=["redis", "memory"])
def backend(request):
    options = {"CHANNEL_CAPACITY": {"turns.full.*": 1}, "BLOCK_TIMEOUT": 0.2}
    if request.param == "memory":
        made = InMemoryChannelBackend(**options)
    else:
        require_redis()
        made = RedisChannelBackend(
            HOSTS=[REDIS_URL], PREFIX=f"turns-{secrets.token_hex(4)}:", **options
        )
    yield made
    made.flush()
    made.close()


@pytest.fixture
def worker(backend):
    made = Worker(backend, Router(ROUTES))
    current[:] = [made]
    thread = threading.Thread(target=made.run, daemon=True)
    thread.start()
    yield made
    made.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    current.clear()


def receive(backend, channel: str, seconds: float = 10.0) -> dict:
    got, message = backend.receive_many([channel], block=True, timeout=seconds)
    assert got == channel, f"nothing on {channel} within {seconds} s"
    return message


def test_replies_arrive_in_order_without_a_next_message(backend, worker):
    reply = f"turns.reply.{secrets.token_hex(4)}"
    for n in range(3):
        backend.send("turns.two", {"reply": reply, "n": n})
        # Nothing else is sent: the worker must not wait for a next message.
        assert receive(backend, reply) == {"n": n, "part": 1}
        assert receive(backend, reply) == {"n": n, "part": 2}
    deadline = time.monotonic() + 10  # counted just after the replies went
    while worker.handled < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.handled == 3


def test_back_to_back_messages_each_get_their_replies(backend, worker):
    reply = f"turns.reply.{secrets.token_hex(4)}"
    backend.send_many([("turns.two", {"reply": reply, "n": n}) for n in range(20)])
    got = [receive(backend, reply) for _ in range(40)]
    assert got == [{"n": n, "part": p} for n in range(20) for p in (1, 2)]


def test_a_full_reply_channel_is_waited_for(backend, worker):
    reply = f"turns.full.{secrets.token_hex(4)}"
    backend.send(reply, {"n": "ahead"})  # capacity 1: now full
    backend.send("turns.two", {"reply": reply, "n": 1})
    time.sleep(0.3)  # the worker is retrying the full channel meanwhile
    assert receive(backend, reply) == {"n": "ahead"}
    assert receive(backend, reply) == {"n": 1, "part": 1}
    assert receive(backend, reply) == {"n": 1, "part": 2}


def test_a_channel_that_stays_full_is_a_consumer_failure(backend, worker, caplog):
    reply = f"turns.full.{secrets.token_hex(4)}"
    backend.send(reply, {"n": "ahead"})
    with caplog.at_level(logging.ERROR, logger="channels.worker"):
        backend.send("turns.two", {"reply": reply, "n": 1})
        deadline = time.monotonic() + FULL_RETRY_SECONDS + 10
        while worker.handled < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert worker.handled == 1
    [record] = [r for r in caplog.records if "raised on turns.two" in r.getMessage()]
    assert "stayed full" in str(record.exc_info[1])
    # The channel still holds what was ahead, and nothing of the failed run.
    assert receive(backend, reply) == {"n": "ahead"}
    assert backend.receive_many([reply]) == (None, None)


def test_a_reply_that_cannot_be_encoded_gets_the_client_a_500(backend, worker, caplog):
    reply = f"turns.reply.{secrets.token_hex(4)}"
    with caplog.at_level(logging.ERROR, logger="channels.worker"):
        backend.send("http.request", {"reply_channel": reply, "path": "/", "method": "GET"})
        answer = receive(backend, reply)
    assert answer["status"] == 500
    assert any("raised on http.request" in r.getMessage() for r in caplog.records)


def test_group_sends_keep_their_place_among_channel_sends(backend, worker):
    reply = f"turns.reply.{secrets.token_hex(4)}"
    group = f"turns-{secrets.token_hex(4)}"
    backend.group_add(group, reply)
    backend.send("turns.group", {"reply": reply, "group": group})
    assert [receive(backend, reply)["n"] for _ in range(3)] == [1, 2, 3]


def test_stop_sends_the_replies_in_hand_before_run_returns(backend):
    made = Worker(backend, Router(ROUTES))
    current[:] = [made]
    reply = f"turns.reply.{secrets.token_hex(4)}"
    backend.send("turns.stop", {"reply": reply})
    thread = threading.Thread(target=made.run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    # run() has returned: whatever the consumer sent is already there.
    assert backend.receive_many([reply]) == (reply, {"last": True})


def view_request(path: str, reply: str) -> dict:
    return {
        "reply_channel": reply,
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "body": b"",
        "client": ["127.0.0.1", 5000],
        "server": ["testserver", 80],
    }


@override_settings(ROOT_URLCONF="views_project.urls")
def test_view_responses_arrive_whole_and_in_order(backend):
    """A one-message response goes out with the worker's next turn (held, as
    a consumer's replies are), a streamed one as it is produced: either way
    each request is answered without a next message, and in full."""
    made = Worker(backend, Router([route("http.request", ViewConsumer())]))
    thread = threading.Thread(target=made.run, daemon=True)
    thread.start()
    try:
        for _ in range(3):
            reply = f"turns.reply.{secrets.token_hex(4)}"
            backend.send("http.request", view_request("/hello/", reply))
            answer = receive(backend, reply)
            assert (answer["status"], answer["content"]) == (200, b"Hello, channels!")
            assert answer["more_content"] is False
            streamed = f"turns.reply.{secrets.token_hex(4)}"
            backend.send("http.request", view_request("/stream/", streamed))
            parts = [receive(backend, streamed)]
            while parts[-1]["more_content"]:
                parts.append(receive(backend, streamed))
            assert parts[0]["status"] == 200 and len(parts) > 1
        deadline = time.monotonic() + 10
        while made.handled < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert made.handled == 6
    finally:
        made.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
