"""The Redis backend when Redis blinks: restarts under blocked receivers
(a thread, a process, a real ``runworker``), senders while Redis is down,
and one shard of three down. Every test runs its own redis-server."""

from __future__ import annotations

import multiprocessing
import queue
import secrets
import threading
import time

import pytest

from channels.backends.redis import RedisChannelBackend
from channels.exceptions import BackendUnavailable

from ..conftest import test_settings as django_settings
from ..processes import Process, manage, project_env
from .child import build_backend_in_child
from .redis_servers import own_redis, start_servers  # noqa: F401 (fixture)

pytestmark = pytest.mark.redis

BACKEND_PATH = "channels.backends.redis.RedisChannelBackend"


def make(server, **options) -> RedisChannelBackend:
    return RedisChannelBackend("default", HOSTS=[server.url], **options)


def send_when_back(backend, channel, message, within: float = 10.0) -> None:
    """Send as soon as Redis takes it (how soon is bench/layer_bench.py's
    ``--faults`` figure, not a test assertion)."""
    deadline = time.monotonic() + within
    while True:
        try:
            backend.send(channel, message)
            return
        except BackendUnavailable:
            if time.monotonic() > deadline:
                raise


def test_blocked_receiver_thread_survives_a_restart(own_redis):  # noqa: F811
    receiver, sender = make(own_redis), make(own_redis)
    got: queue.Queue = queue.Queue()
    errors = []
    stop = threading.Event()

    def receive():
        try:
            while not stop.is_set():
                channel, message = receiver.receive_many(["fault.a", "fault!"], block=True)
                if channel is not None:
                    got.put((time.monotonic(), channel, message))
        except BaseException as exc:  # the test fails if anything escapes
            errors.append(exc)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    sender.send("fault.a", {"n": 1})
    assert got.get(timeout=5)[1:] == ("fault.a", {"n": 1})
    own_redis.wait_blocked()
    own_redis.restart(down_for=1.5)
    send_when_back(sender, "fault.a", {"n": 2})
    _, channel, message = got.get(timeout=10)
    assert (channel, message) == ("fault.a", {"n": 2})
    # Process-local channels (the inbox) work again too.
    reply = sender.new_channel("fault!")
    sender.send(reply, {"n": 3})
    assert got.get(timeout=5)[1:] == (reply, {"n": 3})
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert errors == []


def _receive_forever(spec, channels, out):
    backend = build_backend_in_child(spec)
    out.put("ready")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        channel, message = backend.receive_many(channels, block=True, timeout=0.5)
        if channel is not None:
            out.put((time.monotonic(), message))
            if message.get("last"):
                return


def test_blocked_receiver_process_survives_a_restart(own_redis):  # noqa: F811
    spec = {
        "settings": django_settings(),
        "backend": {"BACKEND": BACKEND_PATH, "HOSTS": [own_redis.url], "BLOCK_TIMEOUT": 5},
    }
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    proc = context.Process(target=_receive_forever, args=(spec, ["fault.p"], out))
    proc.start()
    try:
        assert out.get(timeout=60) == "ready"
        sender = make(own_redis)
        sender.send("fault.p", {"n": 1})
        assert out.get(timeout=5)[1] == {"n": 1}
        own_redis.wait_blocked()
        own_redis.restart(down_for=2.0)
        assert proc.is_alive()
        send_when_back(sender, "fault.p", {"n": 2, "last": True})
        _, message = out.get(timeout=10)
        assert message == {"n": 2, "last": True}
        proc.join(timeout=10)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()


def test_senders_raise_backend_unavailable_and_receivers_wait_while_down(own_redis):  # noqa: F811
    backend = make(own_redis, SEND_RETRY_TIME=1)
    backend.send("fault.s", {"n": 1})
    own_redis.stop()
    # A send racing the crash itself may have reached Redis or not: it is
    # not retried (that could deliver twice) but raises at once.
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{own_redis.port}"):
        backend.send("fault.s", {"n": 2})
    # Redis is known gone: sends retry for SEND_RETRY_TIME, then raise.
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="cannot reach Redis"):
        backend.send("fault.s", {"n": 2})
    assert time.monotonic() - started >= 0.9  # it did retry, for SEND_RETRY_TIME
    with pytest.raises(BackendUnavailable):
        backend.send_group("fault-group", {"n": 2})
    # Receivers do not raise: they return empty, blocking ones after their
    # timeout.
    assert backend.receive_many(["fault.s"]) == (None, None)
    started = time.monotonic()
    assert backend.receive_many(["fault.s"], block=True, timeout=1.0) == (None, None)
    assert time.monotonic() - started >= 0.9
    own_redis.start()
    # The message queued before the restart is gone (no persistence) ...
    assert backend.receive_many(["fault.s"], block=True, timeout=1.5) == (None, None)
    # ... and everything works again.
    backend.send("fault.s", {"n": 3})
    assert backend.receive_many(["fault.s"]) == ("fault.s", {"n": 3})


def test_one_shard_down_does_not_stop_the_others():
    servers = start_servers(3)
    try:
        backend = RedisChannelBackend(
            "default", HOSTS=[s.url for s in servers], SEND_RETRY_TIME=0.5
        )
        names = [f"shard.{n}" for n in range(30)]
        by_server = {s.url: [] for s in servers}
        for name in names:
            ident = backend.shard_for_channel(name).ident
            by_server[next(s.url for s in servers if s.url == ident)].append(name)
        assert all(by_server.values())
        for name in names:
            backend.group_add("all", name)
        victim = next(s for s in servers if s.url != backend.shard_for_group("all").ident)
        victim.stop()
        alive = [n for n in names if n not in by_server[victim.url]]
        sent = backend.send_group("all", {"n": 1})
        assert sent == len(alive)
        assert backend.stats["group_send_skipped"] == len(by_server[victim.url])
        got = set()
        deadline = time.monotonic() + 20
        while len(got) < len(alive) and time.monotonic() < deadline:
            channel, _ = backend.receive_many(names, block=True, timeout=0.5)
            if channel is not None:
                got.add(channel)
        assert got == set(alive)
        # A blocking receive over all shards still wakes for a live one.
        waiter = next(s for s in servers if s is not victim)
        threading.Thread(
            target=lambda: (waiter.wait_blocked(), backend.send(alive[0], {"n": 2})), daemon=True
        ).start()
        assert backend.receive_many(names, block=True, timeout=5) == (alive[0], {"n": 2})
        victim.start()
        lost = by_server[victim.url][0]
        backend.send(lost, {"n": 3})
        assert backend.receive_many(names, block=True, timeout=5) == (lost, {"n": 3})
    finally:
        for server in servers:
            server.cleanup()


def test_runworker_serves_again_after_a_restart(own_redis, tmp_path):  # noqa: F811
    prefix = f"rw-{secrets.token_hex(4)}:"
    env = project_env(
        "redis_project.settings",
        REDIS_PROJECT_HOSTS=own_redis.url,
        REDIS_PROJECT_PREFIX=prefix,
        REDIS_PROJECT_SQLITE=str(tmp_path / "db.sqlite3"),
    )
    worker = Process(manage("runworker", "-v", "1"), env, tmp_path / "worker.log")
    try:
        worker.wait_for_output("serving")
        client = RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX=prefix)
        reply = client.new_channel("fault.client!")

        def ping(n, within):
            send_when_back(client, "redis.ping", {"n": n, "reply_channel": reply})
            return client.receive_many(["fault.client!"], block=True, timeout=within)

        channel, message = ping(1, 10)
        assert (channel, message["n"]) == (reply, 1)
        pid = message["pid"]
        for restart in range(2):
            own_redis.restart(down_for=2.0)
            channel, message = ping(2 + restart, 10)
            assert (channel, message["n"]) == (reply, 2 + restart), worker.output()
            assert message["pid"] == pid  # the same worker process, never restarted
            assert worker.popen.poll() is None
        worker.signal()
        assert worker.wait(timeout=15) == 0, worker.output()
    finally:
        worker.stop()
