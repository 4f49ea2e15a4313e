"""The Redis backend: the conformance suite on one server and on three
shards, plus what only Redis promises (fan-out to 1,000 reply channels, no
leaks, prefixes, encryption, consistent hashing, atomic capacity)."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time

import pytest

from channels.backends.redis import RedisChannelBackend
from channels.backends.redis.sharding import HashRing
from channels.exceptions import ChannelFull, ImproperlyConfiguredBackend

from ..conftest import test_settings as django_settings
from .child import build_backend_in_child
from .conformance import BackendConformance, OpsConformance
from .redis_servers import own_redis, redis_shards, redis_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.redis

BACKEND_PATH = "channels.backends.redis.RedisChannelBackend"


class RedisConformance(BackendConformance, OpsConformance):
    hosts: list[str]

    def options(self, **options) -> dict:
        return {"HOSTS": self.hosts, "PREFIX": self.prefix, **options}

    def make_backend(self, **options):
        return RedisChannelBackend("default", **self.options(**options))

    def process_spec(self, **options) -> dict:
        return {
            "settings": django_settings(),
            "backend": {"BACKEND": BACKEND_PATH, **self.options(**options)},
        }


class TestRedisBackend(RedisConformance):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url):  # noqa: F811
        self.hosts = [redis_url]
        # Own prefix: the tests may share a Redis with others (CI).
        self.prefix = f"test-{secrets.token_hex(4)}:"


class TestShardedRedisBackend(RedisConformance):
    @pytest.fixture(autouse=True)
    def _servers(self, redis_shards):  # noqa: F811
        self.hosts = [server.url for server in redis_shards]
        self.prefix = f"test-{secrets.token_hex(4)}:"

    def test_channels_really_spread_over_the_shards(self, backend, redis_shards):  # noqa: F811
        for n in range(60):
            backend.send(f"spread.{n}", {"n": n})
        counts = [len(server.client().keys(f"{self.prefix}*")) for server in redis_shards]
        assert all(count >= 5 for count in counts), counts
        got = set()
        names = [f"spread.{n}" for n in range(60)]
        while True:
            channel, _ = backend.receive_many(names)
            if channel is None:
                break
            got.add(channel)
        assert got == set(names)

    def test_blocking_receive_over_shards_wakes_for_any_of_them(
        self,
        backend,
        redis_shards,  # noqa: F811
    ):
        # Where a name lands depends on the servers' (random) ports: pick two
        # names on each of the three servers.
        names, per_shard = [], {}
        for n in range(10_000):
            name = f"wake.{n}"
            ident = backend.shard_for_channel(name).ident
            if per_shard.get(ident, 0) < 2:
                per_shard[ident] = per_shard.get(ident, 0) + 1
                names.append(name)
            if len(names) == 6:
                break
        assert sorted(per_shard.values()) == [2, 2, 2]
        sender = self.other()

        def send_once_all_wait(name):
            # The receiver waits on every server: send only then.
            for server in redis_shards:
                server.wait_blocked()
            sender.send(name, {"to": name})

        for name in names:
            thread = threading.Thread(target=send_once_all_wait, args=(name,))
            thread.start()
            assert backend.receive_many(names, block=True, timeout=10) == (name, {"to": name})
            thread.join(timeout=10)

    def test_multi_shard_wait_leaves_no_keys_behind(self, backend, redis_shards):  # noqa: F811
        names = [f"idle.{n}" for n in range(12)]
        for _ in range(3):
            assert backend.receive_many(names, block=True, timeout=0.2) == (None, None)
        backend.send(names[0], {"n": 1})
        assert backend.receive_many(names, block=True, timeout=1) == (names[0], {"n": 1})
        keys = [k for s in redis_shards for k in s.client().keys(f"{self.prefix}*")]
        assert keys == []

    def _names_on_two_shards(self, backend) -> tuple[str, str]:
        first = "putback.0"
        for n in range(1, 10_000):
            other = f"putback.{n}"
            if backend.shard_for_channel(other).ident != backend.shard_for_channel(first).ident:
                return first, other
        raise AssertionError("no two names on different servers")

    def test_a_message_popped_by_a_losing_wait_is_put_back_first(self, backend):
        # Two servers answer one multi-server wait in the same instant: the
        # blocking pops are made with a message already waiting on each, as
        # when two arrive together. The loser's message goes back to the
        # head of its list, ahead of what came after it.
        a, b = self._names_on_two_shards(backend)
        backend.send(a, {"n": "a1"})
        backend.send(b, {"n": "b1"})
        backend.send(b, {"n": "b2"})
        buckets = backend._buckets([a, b])
        assert len(buckets) == 2
        found = backend._block_many(buckets, 5.0)
        assert found is not None
        first = found[0]
        rest = []
        while True:
            channel, message = backend.receive_many([a, b])
            if channel is None:
                break
            rest.append((channel, message["n"]))
        expected = {a: ["a1"], b: ["b1", "b2"]}
        expected[first].pop(0)
        assert [n for channel, n in rest if channel == a] == expected[a]
        assert [n for channel, n in rest if channel == b] == expected[b]  # b1 before b2

    def test_messages_arriving_together_on_two_servers_are_each_delivered_once(self, backend):
        # Through the public receive: a blocked receiver over several servers
        # while two senders hit two servers at once, many times over. Some
        # rounds take the put-back path; none may lose, repeat or reorder.
        a, b = self._names_on_two_shards(backend)
        senders = [self.other(), self.other()]
        got: list[tuple[str, int]] = []
        for round_ in range(40):
            start = threading.Barrier(3)

            def send(sender, name, start, n):
                start.wait(timeout=10)
                sender.send(name, {"n": n})

            threads = [
                threading.Thread(target=send, args=(sender, name, start, round_))
                for sender, name in zip(senders, (a, b), strict=True)
            ]
            for thread in threads:
                thread.start()
            start.wait(timeout=10)
            for _ in range(2):
                channel, message = backend.receive_many([a, b], block=True, timeout=10)
                assert channel is not None
                got.append((channel, message["n"]))
            for thread in threads:
                thread.join(timeout=10)
        assert backend.receive_many([a, b]) == (None, None)
        assert sorted(got) == sorted((name, n) for n in range(40) for name in (a, b))
        for name in (a, b):
            assert [n for channel, n in got if channel == name] == list(range(40))

    def test_group_send_over_shards_with_capacity_overrides(self, backend):
        tuned = self.other(CAPACITY=1, CHANNEL_CAPACITY={"roomy.*": 3})
        members = [f"roomy.{n}" for n in range(6)] + [f"tight.{n}" for n in range(6)]
        for name in members:
            tuned.group_add("over-shards", name)
        assert tuned.send_group("over-shards", {"n": 1}) == 12
        assert tuned.send_group("over-shards", {"n": 2}) == 6  # tight.* are full
        assert tuned.stats["group_send_skipped"] == 6


# --- Redis-only promises, on a single server of our own ---------------------


def make(server, **options) -> RedisChannelBackend:
    return RedisChannelBackend("default", HOSTS=[server.url], **options)


def test_group_message_reaches_1000_reply_channels_of_one_process(own_redis):  # noqa: F811
    backend = make(own_redis)  # default capacity 100: shared it would lose 900
    names = [backend.new_channel("x!") for _ in range(1000)]
    for name in names:
        backend.group_add("everyone", name)
    assert backend.send_group("everyone", {"text": "hello"}) == 1000
    got = []
    while True:
        channel, message = backend.receive_many(["x!"])
        if channel is None:
            break
        assert message == {"text": "hello"}
        got.append(channel)
    assert sorted(got) == sorted(names)
    assert backend.stats["group_send_skipped"] == 0


def test_an_inbox_takes_replies_that_come_one_at_a_time_in_one_round_trip_each(
    own_redis,  # noqa: F811
):
    # An interface server's inbox at a low message rate: each reply arrives
    # while its receiver is blocked. Counting the previous reply off its
    # channel rides ahead of the next BLPOP, so each costs one round trip
    # (it used to cost two: a BLPOP, then a pop to count it off).
    receiver, sender = make(own_redis), make(own_redis)
    names = [receiver.new_channel("iface!") for _ in range(4)]
    assert receiver.receive_many(["iface!"]) == (None, None)  # loads the scripts
    shard = receiver.shards[0]
    calls = []
    request = shard.request

    def counted(commands, *args, **kwargs):
        calls.append([command[0] for command in commands])
        return request(commands, *args, **kwargs)

    shard.request = counted  # every round trip goes through request()
    got = []
    arrived = threading.Event()

    def receive():
        for _ in range(40):
            got.append(receiver.receive_many(["iface!"], block=True, timeout=10))
            arrived.set()

    thread = threading.Thread(target=receive)
    thread.start()
    for n in range(40):
        time.sleep(0.01)  # the receiver is blocked in BLPOP by now
        arrived.clear()
        sender.send(names[n % 4], {"n": n})
        assert arrived.wait(10)
    thread.join(10)
    assert [(c, m["n"]) for c, m in got] == [(names[n % 4], n) for n in range(40)]
    assert len(calls) == 40, calls
    # Every count came off: each channel takes its full capacity again.
    assert receiver.receive_many(["iface!"]) == (None, None)
    for name in names:
        for n in range(100):
            sender.send(name, {"n": n})
        with pytest.raises(ChannelFull):
            sender.send(name, {"n": 100})


def test_an_inbox_counts_off_after_the_server_lost_its_scripts(own_redis):  # noqa: F811
    # The count-off of a BLPOP'd reply rides ahead of the next BLPOP as an
    # EVALSHA; a restarted server has no scripts (NOSCRIPT), and the counts
    # must still come off while replies keep coming one at a time.
    receiver, sender = make(own_redis), make(own_redis)
    name = receiver.new_channel("iface!")
    assert receiver.receive_many(["iface!"]) == (None, None)  # loads the scripts
    got = []
    arrived = threading.Event()

    def receive():
        for _ in range(5):
            got.append(receiver.receive_many(["iface!"], block=True, timeout=10)[1])
            arrived.set()

    thread = threading.Thread(target=receive)
    thread.start()
    for n in range(4):
        time.sleep(0.05)  # the receiver is blocked in BLPOP by now
        if n == 1:
            own_redis.client().script_flush()
        arrived.clear()
        sender.send(name, {"n": n})
        assert arrived.wait(10)
    time.sleep(0.2)  # the fifth receive has sent its count-off and blocks
    # Every reply taken so far is counted off: the channel takes its whole
    # capacity (the fifth receive takes the first of these, still counted).
    for n in range(100):
        sender.send(name, {"n": 4 + n})
    with pytest.raises(ChannelFull):
        sender.send(name, {"n": 104})
    thread.join(10)
    assert [m["n"] for m in got] == [0, 1, 2, 3, 4]


def test_no_leak_after_10000_request_reply_cycles(own_redis):  # noqa: F811
    client = own_redis.client()
    baseline = client.dbsize()
    server = make(own_redis, EXPIRY=1, GROUP_EXPIRY=1)
    worker = make(own_redis, EXPIRY=1, GROUP_EXPIRY=1)
    for n in range(10_000):
        reply = server.new_channel("iface!")
        server.send("http.request", {"reply_channel": reply, "n": n})
        _, request = worker.receive_many(["http.request"])
        worker.send(request["reply_channel"], {"status": 200})
        if n % 10 == 0:
            worker.group_add(f"room-{n % 50}", reply)
        if n % 3:
            server.receive_many(["iface!"])  # the other replies are abandoned
    assert client.dbsize() > baseline  # abandoned replies and groups are still there
    time.sleep(2.5)  # past every EXPIRY, GROUP_EXPIRY and key TTL slack
    deadline = time.monotonic() + 5
    while client.dbsize() > baseline and time.monotonic() < deadline:
        time.sleep(0.2)  # Redis expires keys lazily and in sampled batches
    assert client.dbsize() == baseline, client.keys("*")[:20]


def test_prefixes_isolate_projects(own_redis):  # noqa: F811
    one, two = make(own_redis, PREFIX="one:"), make(own_redis, PREFIX="two:")
    one.send("shared.name", {"from": "one"})
    two.send("shared.name", {"from": "two"})
    one.group_add("room", "shared.name")
    assert two.group_channels("room") == []
    two.flush()
    assert two.receive_many(["shared.name"]) == (None, None)
    assert one.receive_many(["shared.name"]) == ("shared.name", {"from": "one"})
    assert one.group_channels("room") == ["shared.name"]
    own_redis.client().set("unrelated", "kept")
    one.flush()
    assert own_redis.client().keys("*") == [b"unrelated"]


def everything_stored(client) -> bytes:
    """Every value of every key on a Redis server, whatever the key's type
    (so no assumption about where the backend keeps a message)."""
    readers = {
        b"list": lambda key: client.lrange(key, 0, -1),
        b"string": lambda key: [client.get(key)],
        b"set": lambda key: list(client.smembers(key)),
        b"zset": lambda key: client.zrange(key, 0, -1),
        b"hash": lambda key: [b"".join(pair) for pair in client.hgetall(key).items()],
    }
    values = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        assert kind in readers, f"key {key!r} of unexpected type {kind!r}"
        values += readers[kind](key)
    return b"".join(v for v in values if v)


def test_encryption_round_trip_and_key_rotation(own_redis):  # noqa: F811
    client = own_redis.client()
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    marker = f"plaintext-{secrets.token_hex(8)}"
    # The control: without keys, a message's text is readable in Redis, so
    # the reads below would see it if encryption left it there.
    plain = make(own_redis, PREFIX="plain:")
    plain.send("secret", {"text": marker})
    assert marker.encode() in everything_stored(client)
    plain.flush()
    assert client.keys("*") == []

    before = make(own_redis, SYMMETRIC_ENCRYPTION_KEYS=[old])
    during = make(own_redis, SYMMETRIC_ENCRYPTION_KEYS=[new, old])
    after = make(own_redis, SYMMETRIC_ENCRYPTION_KEYS=[new])
    before.send("secret", {"text": marker, "b": b"\x00\x01"})
    stored = everything_stored(client)
    assert len(stored) > len(marker), stored  # the message is there ...
    assert marker.encode() not in stored  # ... and not readable
    assert during.receive_many(["secret"]) == ("secret", {"text": marker, "b": b"\x00\x01"})
    during.send("secret", {"n": 2})
    assert after.receive_many(["secret"]) == ("secret", {"n": 2})
    # A message no key opens is dropped (and logged), never delivered garbled.
    after.send("secret", {"n": 3})
    assert before.receive_many(["secret"]) == (None, None)
    # Group sends are encrypted at rest too.
    during.group_add("g", "secret")
    members_only = everything_stored(client)
    group_marker = f"group-{secrets.token_hex(8)}"
    assert during.send_group("g", {"text": group_marker}) == 1
    stored = everything_stored(client)
    assert len(stored) > len(members_only) + len(group_marker), stored  # it is there ...
    assert group_marker.encode() not in stored  # ... and not readable
    assert after.receive_many(["secret"]) == ("secret", {"text": group_marker})


def test_bad_options_are_clear_configuration_errors():
    bad = [
        {"HOSTS": "redis://localhost"},
        {"HOSTS": []},
        {"HOSTS": ["http://localhost"]},
        {"HOSTS": [("localhost", "6379")]},
        {"HOSTS": ["redis://a:1/0", "redis://a:1/0"]},
        {"HOSTS": ["redis://a/x"]},
        {"HOSTS": ["redis://a"], "HOST": "b"},
        {"PREFIX": ""},
        {"SYMMETRIC_ENCRYPTION_KEYS": "one-key-not-a-list-of-them"},
        {"SYMMETRIC_ENCRYPTION_KEYS": ["short"]},
        {"CONNECTION_KWARGS": "socket_timeout=1"},
        {"SEND_RETRY_TIME": -1},
        {"NO_SUCH_OPTION": 1},
    ]
    for options in bad:
        with pytest.raises(ImproperlyConfiguredBackend):
            RedisChannelBackend("default", **options)


SENTINELS = [["127.0.0.1", 26379], ["127.0.0.1", 26380]]


@pytest.mark.parametrize(
    "entry, key",
    [
        # A typo must not fall back to localhost:6379 (someone else's Redis).
        ({"host": "10.0.0.5", "prot": 6380}, "'prot'"),
        ({"HOST": "10.0.0.5", "port": 6380}, "'HOST'"),
        ({"address": "redis://10.0.0.5:6380"}, "'address'"),
        ({"host": "10.0.0.5", "ssl_ca_cert": "/etc/ca.pem"}, "'ssl_ca_cert'"),
        ({"SENTINELS": SENTINELS, "MASTER_NAME": "m", "MASTERNAME": "n"}, "'MASTERNAME'"),
        ({"sentinels": SENTINELS, "master_name": "m", "sentinel_kwarg": {}}, "'sentinel_kwarg'"),
        (
            {"SENTINELS": SENTINELS, "MASTER_NAME": "m", "SENTINEL_KWARGS": {"pasword": "x"}},
            "'pasword'",
        ),
    ],
)
def test_a_hosts_dict_with_an_unknown_key_is_an_error_naming_it(entry, key):
    with pytest.raises(ImproperlyConfiguredBackend, match=key):
        RedisChannelBackend("default", HOSTS=[entry])


def test_connection_kwargs_with_an_unknown_key_is_an_error_naming_it():
    with pytest.raises(ImproperlyConfiguredBackend, match="'socket_timout'"):
        RedisChannelBackend("default", CONNECTION_KWARGS={"socket_timout": 1})


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"SENTINELS": SENTINELS}, "MASTER_NAME"),
        ({"SENTINELS": [], "MASTER_NAME": "m"}, "SENTINELS"),
        ({"SENTINELS": [["127.0.0.1", "26379"]], "MASTER_NAME": "m"}, "pairs"),
        ({"SENTINELS": SENTINELS, "MASTER_NAME": "m", "host": "a"}, "takes no 'host'"),
        ({"SENTINELS": SENTINELS, "MASTER_NAME": "m", "DB": "0"}, "DB"),
        ({"SENTINELS": SENTINELS, "MASTER_NAME": "m", "db": 0, "DB": 1}, "twice"),
    ],
)
def test_bad_sentinel_entries_are_clear_errors(entry, message):
    with pytest.raises(ImproperlyConfiguredBackend, match=message):
        RedisChannelBackend("default", HOSTS=[entry])


def test_sentinel_and_plain_shards_mix_and_place_by_master_name():
    upper = {"SENTINELS": SENTINELS, "MASTER_NAME": "shard-a", "DB": 2, "PASSWORD": "s"}
    lower = {"sentinels": SENTINELS, "master_name": "shard-b", "password": "s"}
    backend = RedisChannelBackend("default", HOSTS=[upper, lower, "redis://10.0.0.9:6379/0"])
    assert [shard.ident for shard in backend.shards] == [
        "sentinel://shard-a/2",
        "sentinel://shard-b/0",
        "redis://10.0.0.9:6379/0",
    ]
    # Another process listing other sentinels for the same primaries agrees.
    other = RedisChannelBackend(
        "default",
        HOSTS=[
            {**lower, "sentinels": SENTINELS[:1]},
            "redis://10.0.0.9:6379/0",
            {**upper, "SENTINELS": SENTINELS[::-1]},
        ],
    )
    names = [f"place.{n}" for n in range(200)]
    assert [backend.shard_for_channel(n).ident for n in names] == [
        other.shard_for_channel(n).ident for n in names
    ]


def test_constructor_does_not_connect():
    # Nothing listens on port 1; building the backend must still work.
    backend = RedisChannelBackend("default", HOSTS=["redis://127.0.0.1:1/0"])
    assert "127.0.0.1:1" in repr(backend)


def test_connection_urls_password_db_and_unix_socket():
    server = None
    from .redis_servers import RedisServer

    server = RedisServer(unix_socket=True).start()
    try:
        client = server.client()
        client.config_set("requirepass", "s3cret")
        url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
        backend = RedisChannelBackend("default", HOSTS=[url])
        backend.send("db.three", {"n": 1})
        assert "s3cret" not in repr(backend)
        via_socket = RedisChannelBackend(
            "default", HOSTS=[f"unix://{server.socket_path}?db=3&password=s3cret"]
        )
        assert via_socket.receive_many(["db.three"]) == ("db.three", {"n": 1})
        as_dict = RedisChannelBackend(
            "default",
            HOSTS=[{"host": "127.0.0.1", "port": server.port, "db": 3, "password": "s3cret"}],
        )
        as_dict.send("db.three", {"n": 2})
        assert backend.receive_many(["db.three"]) == ("db.three", {"n": 2})
        import redis

        other_db = redis.Redis(port=server.port, db=0, password="s3cret")
        assert other_db.dbsize() == 0
    finally:
        server.cleanup()


def test_consistent_hashing_moves_only_a_fraction_of_channels():
    names = [f"chan.{n}" for n in range(20_000)]
    three = HashRing(["redis://a:6379/0", "redis://b:6379/0", "redis://c:6379/0"])
    four = HashRing(
        ["redis://a:6379/0", "redis://b:6379/0", "redis://c:6379/0", "redis://d:6379/0"]
    )
    before = {name: three.node_for(name) for name in names}
    after = {name: four.node_for(name) for name in names}
    moved = [name for name in names if before[name] != after[name]]
    # Ideal is 1/4; a modulo scheme would move 3/4.
    assert 0.15 < len(moved) / len(names) < 0.35
    assert all(after[name] == "redis://d:6379/0" for name in moved)
    # Balanced enough, and the order of HOSTS does not matter.
    shares = [list(before.values()).count(node) / len(names) for node in three.nodes]
    assert all(0.25 < share < 0.42 for share in shares), shares
    shuffled = HashRing(["redis://c:6379/0", "redis://a:6379/0", "redis://b:6379/0"])
    assert all(shuffled.node_for(name) == before[name] for name in names[:2000])


def _hammer(spec, channel, count, start, out):
    backend = build_backend_in_child(spec)
    out.put("ready")
    start.wait(30)
    sent = 0
    for n in range(count):
        try:
            backend.send(channel, {"n": n})
            sent += 1
        except ChannelFull:
            pass
    out.put(sent)


@pytest.mark.parametrize("channel", ["atomic.cap", "atomic!reply"])
def test_capacity_is_atomic_under_concurrent_sender_processes(own_redis, channel):  # noqa: F811
    capacity = 50
    spec = {
        "settings": django_settings(),
        "backend": {"BACKEND": BACKEND_PATH, "HOSTS": [own_redis.url], "CAPACITY": capacity},
    }
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    procs = [
        context.Process(target=_hammer, args=(spec, channel, 40, start, out)) for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    # Every sender set up before any sends, so the sends overlap.
    assert [out.get(timeout=60) for _ in procs] == ["ready"] * len(procs)
    start.set()
    accepted = sum(out.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(30)
    assert accepted == capacity
    backend = make(own_redis, CAPACITY=capacity)
    inbox = channel.split("!")[0] + "!" if "!" in channel else channel
    got = 0
    while backend.receive_many([inbox])[0] is not None:
        got += 1
    assert got == capacity
