"""The Redis backend on a Sentinel-managed primary (a primary, a replica and
three sentinels started by the test) across a failover: senders, receivers,
groups, and a real interface server with two workers and 50 echoing
WebSockets, none of which may exit or close."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import pytest
import redis

from channels.backends.legacy import map_layer
from channels.backends.redis import RedisChannelBackend
from channels.backends.registry import build_backend
from channels.exceptions import BackendUnavailable, ImproperlyConfiguredBackend

from ..processes import free_port, project_env
from .failover_traffic import run_deployment
from .redis_sentinel import DOWN_AFTER_MS, MASTER, SentinelGroup
from .redis_servers import own_redis  # noqa: F401 (fixture)

pytestmark = pytest.mark.redis


@pytest.fixture
def sentinel_group(tmp_path):
    group = SentinelGroup(tmp_path)
    yield group
    group.cleanup()


def replicated(group: SentinelGroup) -> None:
    """Wait until the replica has every write made so far (``WAIT``): what
    the test later proves survived is what replication had."""
    with group.primary.client() as client:
        assert client.execute_command("WAIT", 1, 5000) == 1


def test_senders_receivers_and_groups_follow_a_failover(sentinel_group, own_redis):  # noqa: F811
    # A Sentinel shard mixed with a plain one.
    hosts = [sentinel_group.entry(), own_redis.url]
    receiver = RedisChannelBackend("default", HOSTS=hosts)
    sender = RedisChannelBackend("default", HOSTS=hosts)
    names = [f"fo.{n}" for n in range(40)]
    on_sentinel = [n for n in names if sender.shard_for_channel(n).ident.startswith("sentinel")]
    assert on_sentinel and len(on_sentinel) < len(names)
    for name in names:
        sender.group_add("fo-group", name)
    sender.send(on_sentinel[0], {"n": "kept"})
    replicated(sentinel_group)
    got: queue.Queue = queue.Queue()
    errors: list[BaseException] = []
    stop = threading.Event()

    def receive():
        try:
            while not stop.is_set():
                channel, message = receiver.receive_many(names, block=True, timeout=0.5)
                if channel is not None:
                    got.put((channel, message))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    assert got.get(timeout=10) == (on_sentinel[0], {"n": "kept"})
    old = sentinel_group.primary_port()
    sentinel_group.kill_primary()
    # Plain shard unaffected meanwhile.
    plain = next(n for n in names if n not in on_sentinel)
    sender.send(plain, {"n": "plain"})
    assert got.get(timeout=10) == (plain, {"n": "plain"})
    # Sends to the Sentinel shard fail (BackendUnavailable) until the
    # sentinels promote the replica, then go through to it.
    deadline = time.monotonic() + DOWN_AFTER_MS / 1000 + 30
    while True:
        try:
            sender.send(on_sentinel[0], {"n": "after"})
            break
        except BackendUnavailable:
            assert time.monotonic() < deadline, "never reached the new primary"
    assert sentinel_group.wait_failover(old) != old
    assert got.get(timeout=10) == (on_sentinel[0], {"n": "after"})
    # The group, written before the kill and replicated, is all there.
    assert sorted(sender.group_channels("fo-group")) == sorted(names)
    assert sender.send_group("fo-group", {"n": "all"}) == len(names)
    everyone = {got.get(timeout=10)[0] for _ in names}
    assert everyone == set(names)
    stop.set()
    thread.join(timeout=10)
    assert errors == []


def test_a_planned_failover_is_followed(sentinel_group):
    # SENTINEL FAILOVER demotes a primary that is still running: the
    # connections to it must not go on writing to a replica.
    backend = RedisChannelBackend("default", HOSTS=[sentinel_group.entry()])
    backend.send("planned.a", {"n": 0})
    assert backend.receive_many(["planned.a"]) == ("planned.a", {"n": 0})
    old = sentinel_group.primary_port()
    with sentinel_group.sentinels[0].client() as client:
        client.execute_command("SENTINEL", "FAILOVER", MASTER)
    new = sentinel_group.wait_failover(old)
    # Until the sentinels have turned the old primary into a replica it
    # still takes writes (lost when it resyncs: the failover's window).
    deadline = time.monotonic() + 30
    with redis.Redis(host="127.0.0.1", port=old) as demoted:
        while demoted.info("replication")["role"] != "slave":
            assert time.monotonic() < deadline, "the old primary was never demoted"
            time.sleep(0.05)
    with redis.Redis(host="127.0.0.1", port=new) as primary:
        for n in range(1, 6):
            deadline = time.monotonic() + 30
            while True:
                try:
                    backend.send("planned.a", {"n": n})
                    break
                except BackendUnavailable:
                    assert time.monotonic() < deadline
            # Written to the new primary, and taken from it.
            assert primary.llen(backend.keys.queue("planned.a")) == 1
            got = backend.receive_many(["planned.a"], block=True, timeout=5)
            assert got == ("planned.a", {"n": n})


# --- a real deployment across a failover -----------------------------------


def test_a_deployment_rides_out_a_sentinel_failover(sentinel_group, tmp_path):
    def fail_over() -> float:
        replicated(sentinel_group)
        old = sentinel_group.primary_port()
        kill_at = time.monotonic()
        sentinel_group.kill_primary()
        sentinel_group.wait_failover(old)
        return kill_at

    report = run_deployment(tmp_path, {"HOSTS": [sentinel_group.entry()]}, fail_over)
    report.check(budget=DOWN_AFTER_MS / 1000 + 5)
    print(f"sentinel {report.summary()}")


# --- channels status: one row per shard --------------------------------------


def _status(env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "channels.cli", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)["servers"]}


def test_status_shows_each_shard_role_reachability_failovers_and_memory(
    sentinel_group,
    own_redis,  # noqa: F811
    tmp_path,
):
    # A shard that is down, but not the one keeping heartbeats (status
    # needs those): channel stats leave it out, its row says so.
    for _ in range(100):
        dead = f"redis://127.0.0.1:{free_port()}/0"
        hosts = [sentinel_group.entry(), own_redis.url, dead]
        placed = RedisChannelBackend("default", HOSTS=hosts)
        if placed._heartbeat_shard().ident != dead:
            break
    else:
        raise AssertionError("every free port put heartbeats on the dead shard")
    env = project_env(
        "tests.backends.failover_settings",
        CHANNELS_TEST_BACKEND="redis",
        CHANNELS_TEST_SQLITE=str(tmp_path / "db.sqlite3"),
        CHANNELS_TEST_REDIS_OPTIONS=json.dumps({"HOSTS": hosts}),
    )
    sentinel = "sentinel://channels-test/0"
    before = _status(env)
    assert before[sentinel]["address"] == f"127.0.0.1:{sentinel_group.primary.port}"
    assert before[sentinel]["role"] == "master" and before[sentinel]["reachable"]
    assert before[sentinel]["failovers"] == 0 and before[sentinel]["memory"] > 0
    assert before[own_redis.url]["role"] == "master"
    assert before[own_redis.url]["failovers"] is None
    assert before[dead]["reachable"] is False and before[dead]["role"] is None
    old = sentinel_group.primary_port()
    sentinel_group.kill_primary()
    sentinel_group.wait_failover(old)
    after = _status(env)
    assert after[sentinel]["address"] == f"127.0.0.1:{sentinel_group.replica.port}"
    assert after[sentinel]["role"] == "master" and after[sentinel]["reachable"]
    assert after[sentinel]["failovers"] == 1
    # The table says the same.
    done = subprocess.run(
        [sys.executable, "-m", "channels.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout[done.stdout.index("Servers") :].splitlines()
    row = next(line.split() for line in lines if line.startswith(sentinel))
    assert row[1:5] == [f"127.0.0.1:{sentinel_group.replica.port}", "master", "yes", "1"]
    assert row[5:] and row[6] == "MiB"
    assert next(line.split() for line in lines if line.startswith(dead))[3] == "NO"


def test_an_asgi_redis_1x_sentinel_layer_runs_on_sentinel_shards(sentinel_group):
    # Channels 1.x projects wrote asgi_redis.RedisSentinelChannelLayer with
    # the sentinels as hosts and the masters as services.
    layer = {
        "BACKEND": "asgi_redis.RedisSentinelChannelLayer",
        "CONFIG": {
            "hosts": [tuple(address) for address in sentinel_group.addresses],
            "services": [MASTER],
            "sentinel_refresh_interval": 30,
        },
    }
    dropped: list[str] = []
    entry = map_layer("default", layer, dropped)
    assert entry["HOSTS"] == [{"SENTINELS": sentinel_group.addresses, "MASTER_NAME": MASTER}]
    assert dropped == ["default: CONFIG['sentinel_refresh_interval'] (asked on each connect)"]
    backend = build_backend("default", entry)
    backend.send("legacy.sentinel", {"n": 1})
    with sentinel_group.primary.client() as primary:
        assert primary.llen(backend.keys.queue("legacy.sentinel")) == 1  # on the primary
    assert backend.receive_many(["legacy.sentinel"]) == ("legacy.sentinel", {"n": 1})
    with pytest.raises(ImproperlyConfiguredBackend, match="services"):
        map_layer("default", {**layer, "CONFIG": {"hosts": layer["CONFIG"]["hosts"]}}, [])
