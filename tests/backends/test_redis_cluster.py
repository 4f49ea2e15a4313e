"""The Redis backend on a Redis Cluster (three primaries, three replicas,
started by the test): the conformance suite, a reshard of slots under
traffic, and the kill of a primary."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import pytest

from channels.backends.redis import RedisChannelBackend
from channels.exceptions import BackendUnavailable, ImproperlyConfiguredBackend

from .failover_traffic import run_deployment
from .redis_cluster import NODE_TIMEOUT_MS, LocalCluster
from .test_redis import RedisConformance

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def cluster():
    started = LocalCluster()
    yield started
    started.cleanup()


@pytest.fixture
def own_cluster():
    """A cluster for one test that kills a primary (each primary has one
    replica to take over: a second kill of the same slot would be an outage)."""
    started = LocalCluster()
    yield started
    started.cleanup()


class TestRedisClusterBackend(RedisConformance):
    @pytest.fixture(autouse=True)
    def _cluster(self, cluster):
        self.hosts = cluster.urls[:1]  # one seed finds the rest
        self.prefix = f"cl-{secrets.token_hex(4)}:"

    def options(self, **options) -> dict:
        return super().options(CLUSTER=True, **options)

    def test_one_channels_keys_share_a_slot_and_channels_spread(self, backend, cluster):
        names = [f"spread.{n}" for n in range(60)]
        reply = backend.new_channel("spread.inbox!")
        for name in [*names, reply]:
            backend.send(name, {"n": 1})
        backend.group_add("spread-group", reply)
        holders = {}
        for node in cluster.live():
            with node.client() as client:
                if client.info("replication")["role"] != "master":
                    continue  # a replica holds copies
                for key in client.keys(f"{self.prefix}*"):
                    holders.setdefault(node.port, []).append(key.decode())
        assert len(holders) == 3, holders  # every primary holds some
        inbox_keys = [k for keys in holders.values() for k in keys if "spread.inbox!" in k]
        assert sorted(k.split(":", 2)[1] for k in inbox_keys) == ["n", "q"]
        assert len({port for port, keys in holders.items() if set(inbox_keys) & set(keys)}) == 1


def test_cluster_options_are_checked():
    with pytest.raises(ImproperlyConfiguredBackend, match="CLUSTER"):
        RedisChannelBackend("default", CLUSTER="yes")
    with pytest.raises(ImproperlyConfiguredBackend, match="database 0"):
        RedisChannelBackend("default", HOSTS=["redis://127.0.0.1:7000/1"], CLUSTER=True)
    with pytest.raises(ImproperlyConfiguredBackend, match="PREFIX"):
        RedisChannelBackend(
            "default", HOSTS=["redis://127.0.0.1:7000/0"], CLUSTER=True, PREFIX="{x}:"
        )
    # The constructor never connects (nothing listens on port 1).
    RedisChannelBackend("default", HOSTS=["redis://127.0.0.1:1/0"], CLUSTER=True)


class Traffic:
    """Senders and a receiver on ``names`` in threads, counting every message."""

    def __init__(self, backend_factory, names: list[str]) -> None:
        self.names = names
        self.sent: list[tuple[str, int]] = []
        self.failed: list[tuple[str, int]] = []
        self.got: list[tuple[str, int]] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.sender = backend_factory()
        self.receiver = backend_factory()
        self.threads = [
            threading.Thread(target=self._send, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _send(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                name = self.names[n % len(self.names)]
                try:
                    self.sender.send(name, {"n": n})
                    self.sent.append((name, n))
                except BackendUnavailable:
                    self.failed.append((name, n))
                n += 1
                time.sleep(0.002)
        except BaseException as exc:
            self.errors.append(exc)

    def _receive(self) -> None:
        try:
            while True:
                channel, message = self.receiver.receive_many(self.names, block=True, timeout=0.5)
                if channel is not None:
                    self.got.append((channel, message["n"]))
                elif self.stop.is_set():
                    return
        except BaseException as exc:
            self.errors.append(exc)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)
        assert self.errors == []


def test_a_reshard_under_traffic_loses_and_repeats_nothing(cluster):
    prefix = f"rs-{secrets.token_hex(4)}:"

    def make():
        return RedisChannelBackend(
            "default", HOSTS=cluster.urls, CLUSTER=True, PREFIX=prefix, CAPACITY=10_000
        )

    names = [f"rs.{n}" for n in range(200)]
    traffic = Traffic(make, names)
    time.sleep(0.5)
    # Move 3,000 slots, keys and all, from one primary to another and back.
    source, target = cluster.primary_of(0), cluster.primary_of(16383)
    cluster.reshard(source, target, 3000)
    cluster.reshard(target, source, 3000)
    time.sleep(0.5)
    traffic.finish()
    redirects = {
        kind: traffic.sender._cluster.redirects[kind] + traffic.receiver._cluster.redirects[kind]
        for kind in ("moved", "ask", "tryagain")
    }
    print(f"reshard: {len(traffic.sent)} sent, redirections followed: {redirects}")
    assert redirects["moved"] > 0  # the traffic did meet the moving slots
    assert traffic.failed == []  # a reshard is no outage
    assert len(traffic.got) == len(set(traffic.got)), "a message came twice"
    assert sorted(traffic.got) == sorted(traffic.sent), "a message was lost"
    for name in names:  # FIFO per channel
        ns = [n for channel, n in traffic.got if channel == name]
        assert ns == sorted(ns)


def test_the_kill_of_a_primary_is_ridden_out(own_cluster):
    cluster = own_cluster
    prefix = f"ko-{secrets.token_hex(4)}:"

    def make():
        return RedisChannelBackend("default", HOSTS=cluster.urls, CLUSTER=True, PREFIX=prefix)

    probe = make()
    names = [f"ko.{n}" for n in range(30)]
    for name in names:
        probe.group_add("ko-group", name)
    victim_slot = probe.shard_for_channel(names[0]).slot
    for node in cluster.live():  # the group and everything so far replicated
        with node.client() as client:
            if client.info("replication")["role"] == "master":
                client.execute_command("WAIT", 1, 5000)
    traffic = Traffic(make, names)
    time.sleep(0.5)
    old = cluster.kill_primary_of(victim_slot)
    killed_at = time.monotonic()
    cluster.wait_promoted(victim_slot, old)
    # Sends to the promoted replica's slots work again.
    deadline = time.monotonic() + NODE_TIMEOUT_MS / 1000 + 30
    while True:
        try:
            probe.send(names[0], {"n": -1})
            break
        except BackendUnavailable:
            assert time.monotonic() < deadline
    back_after = time.monotonic() - killed_at
    time.sleep(1.0)
    traffic.finish()
    got = set(traffic.got)
    assert len(traffic.got) == len(got), "a message came twice"
    lost = [m for m in traffic.sent if m not in got]
    # Lost: only what the dead primary held or was sent during the outage.
    print(
        f"cluster failover: sends back after {back_after:.1f} s, {len(lost)} lost, "
        f"{len(traffic.failed)} refused while down, {len(got)} delivered"
    )
    assert len(lost) < len(traffic.sent) / 2
    assert sorted(probe.group_channels("ko-group")) == sorted(names)
    assert probe.send_group("ko-group", {"n": "all"}) == len(names)


def test_a_slot_in_migration_is_followed_with_asking(cluster):
    # Half-way through a migration, as a reshard leaves a slot between two
    # steps: a key the old node does not have is asked of the new one
    # (ASK); a script on several keys gets TRYAGAIN there until the
    # migration ends, and is sent again until then, once.
    backend = RedisChannelBackend(
        "default",
        HOSTS=cluster.urls,
        CLUSTER=True,
        PREFIX=f"ask-{secrets.token_hex(4)}:",
        SEND_RETRY_TIME=20,
    )
    name = "ask.channel"
    slot = backend.shard_for_channel(name).slot
    source = cluster.primary_of(slot)
    # A group on the same primary, so both slots move from it.
    group = next(
        f"ask-group-{n}"
        for n in range(10_000)
        if cluster.primary_of(backend.shard_for_group(f"ask-group-{n}").slot) is source
    )
    group_slot = backend.shard_for_group(group).slot
    target = next(n for n in cluster.primaries() if n is not source)
    ids = cluster.node_ids()
    for moving in {slot, group_slot}:
        with target.client() as client:
            client.execute_command("CLUSTER", "SETSLOT", moving, "IMPORTING", ids[source.port])
        with source.client() as client:
            client.execute_command("CLUSTER", "SETSLOT", moving, "MIGRATING", ids[target.port])
    try:
        backend.group_add(group, name)  # one key: asked of the new node
        assert backend.group_channels(group) == [name]
        sent = threading.Thread(target=backend.send, args=(name, {"n": 1}))
        sent.start()
        deadline = time.monotonic() + 10
        while backend._cluster.redirects["tryagain"] == 0:  # the send is retrying
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        for node in cluster.primaries():
            with node.client() as client:
                for moving in {slot, group_slot}:
                    client.execute_command("CLUSTER", "SETSLOT", moving, "NODE", ids[target.port])
    sent.join(timeout=30)
    assert not sent.is_alive()
    assert backend._cluster.redirects["ask"] > 0
    assert backend.receive_many([name], block=True, timeout=5) == (name, {"n": 1})
    assert backend.receive_many([name]) == (None, None)  # sent once
    assert backend.group_channels(group) == [name]
    cluster.wait_agreed()


def test_a_deployment_rides_out_the_kill_of_a_cluster_primary(own_cluster, tmp_path):
    cluster = own_cluster
    # The primary holding websocket.receive, the busiest channel.
    options = {"HOSTS": cluster.urls, "CLUSTER": True, "PREFIX": f"dep-{secrets.token_hex(4)}:"}
    slot = RedisChannelBackend("default", **options).shard_for_channel("websocket.receive").slot

    def fail_over() -> float:
        for node in cluster.primaries():  # everything so far replicated
            with node.client() as client:
                client.execute_command("WAIT", 1, 5000)
        kill_at = time.monotonic()
        old = cluster.kill_primary_of(slot)
        cluster.wait_promoted(slot, old)
        return kill_at

    report = run_deployment(tmp_path, options, fail_over)
    report.check(budget=NODE_TIMEOUT_MS / 1000 + 5)
    print(f"cluster {report.summary()}")


def test_a_cluster_that_cannot_be_reached_is_an_outage_waited_out_with_back_off():
    # A loopback listener that hangs up on every connection, counting them.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def hang_up():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        backend = RedisChannelBackend(
            "default", HOSTS=[f"redis://127.0.0.1:{port}/0"], CLUSTER=True, SEND_RETRY_TIME=0.5
        )
        # Receivers wait the timeout out, trying again with back-off, not in a loop.
        assert backend.receive_many(["down.a", "down.b"], block=True, timeout=3) == (None, None)
        assert 0 < len(accepted) < 100, len(accepted)
        with pytest.raises(BackendUnavailable, match="cannot reach Redis at cluster://"):
            backend.send("down.a", {"n": 1})
        with pytest.raises(BackendUnavailable):
            backend.send_group("down-group", {"n": 1})
        [row] = backend.server_stats()
        assert row.reachable is False
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()
