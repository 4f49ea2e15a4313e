"""The Redis backend on a Sentinel-managed primary (a primary, a replica and
three sentinels started by the test) across a failover: senders, receivers,
groups, and a real interface server with two workers and 50 echoing
WebSockets, none of which may exit or close."""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import subprocess
import sys
import threading
import time

import pytest
import redis
import websockets
from websockets.asyncio.client import connect

from channels.backends.redis import RedisChannelBackend
from channels.exceptions import BackendUnavailable

from ..interfaces.harness import Stack
from ..processes import free_port, project_env
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

ECHO_SOCKETS = 50
ROOM_SOCKETS = 10
#: Seconds a socket waits for the echo of one message before sending the next.
ANSWER_WAIT = 1.0


class EchoingSocket:
    """One WebSocket sending numbered messages, each after the previous was
    answered or ANSWER_WAIT passed; records when each was sent and answered."""

    def __init__(self, ws, index: int) -> None:
        self.ws = ws
        self.index = index
        self.sent: dict[int, float] = {}
        self.answered: dict[int, float] = {}
        self.duplicates: list[int] = []
        self.unexpected: list[str] = []
        self._answer = asyncio.Event()

    async def read(self) -> None:
        async for text in self.ws:
            who, _, number = text.partition(":")
            if who != str(self.index) or not number.isdigit():
                self.unexpected.append(text)
                continue
            n = int(number)
            if n in self.answered:
                self.duplicates.append(n)
            self.answered[n] = time.monotonic()
            self._answer.set()

    async def talk(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            self._answer.clear()
            self.sent[n] = time.monotonic()
            await self.ws.send(f"{self.index}:{n}")
            try:
                await asyncio.wait_for(self._answer.wait(), ANSWER_WAIT)
            except TimeoutError:
                pass
            n += 1
            await asyncio.sleep(0.05)


def test_a_deployment_rides_out_a_sentinel_failover(sentinel_group, tmp_path):
    stack = Stack(
        tmp_path,
        "redis",
        DJANGO_SETTINGS_MODULE="tests.backends.failover_settings",
        CHANNELS_TEST_REDIS_HOSTS=json.dumps([sentinel_group.entry()]),
        CHANNELS_TEST_PREFIX="fo" + secrets.token_hex(4),
    )
    try:
        workers = [stack.start_worker(), stack.start_worker()]
        server, port = stack.start_server()
        report = asyncio.run(asyncio.wait_for(_deployment(sentinel_group, port), 180))
        for process in [*workers, server]:
            assert process.popen.poll() is None, process.output()
    finally:
        stack.stop()
    (
        kill_at,
        recovered_at,
        sockets,
        room_before,
        room_after,
    ) = report
    budget = DOWN_AFTER_MS / 1000 + 5
    assert recovered_at - kill_at <= budget, f"service back after {recovered_at - kill_at:.1f} s"
    lost = []
    for sock in sockets:
        assert sock.duplicates == [], f"socket {sock.index} answered twice: {sock.duplicates}"
        assert sock.unexpected == [], sock.unexpected
        for n, sent_at in sock.sent.items():
            if n not in sock.answered:
                lost.append((sock.index, n, sent_at))
    # Only messages in flight during the outage may go unanswered (the last
    # one of each socket may still be on its way when the test stops).
    last = {sock.index: max(sock.sent) for sock in sockets}
    for index, n, sent_at in lost:
        in_outage = kill_at - ANSWER_WAIT <= sent_at <= recovered_at
        assert in_outage or n == last[index], (index, n, sent_at - kill_at)
    answered = sum(len(sock.answered) for sock in sockets)
    in_outage = sum(1 for index, n, _ in lost if n != last[index])
    print(
        f"failover: service back {recovered_at - kill_at:.2f} s after the kill; "
        f"{answered} messages answered exactly once, {in_outage} lost in the outage"
    )
    assert room_before == room_after == ROOM_SOCKETS


async def _deployment(group: SentinelGroup, port: int):
    url = f"ws://127.0.0.1:{port}"
    echo = [await connect(f"{url}/echo/", open_timeout=20) for _ in range(ECHO_SOCKETS)]
    room = [await connect(f"{url}/room/", open_timeout=20) for _ in range(ROOM_SOCKETS)]
    sockets = [EchoingSocket(ws, index) for index, ws in enumerate(echo)]
    readers = [asyncio.create_task(sock.read()) for sock in sockets]
    stop = asyncio.Event()
    talkers = [asyncio.create_task(sock.talk(stop)) for sock in sockets]

    async def room_round(text: str) -> int:
        """How many room members got ``text`` sent by the first one."""
        await room[0].send(text)
        received = 0
        for ws in room:
            try:
                while await asyncio.wait_for(ws.recv(), 10) != text:
                    pass
                received += 1
            except TimeoutError:
                pass
        return received

    room_before = await room_round("before")
    await asyncio.sleep(2)  # steady traffic
    await asyncio.to_thread(replicated, group)
    old = await asyncio.to_thread(group.primary_port)
    kill_at = time.monotonic()
    await asyncio.to_thread(group.kill_primary)
    await asyncio.to_thread(group.wait_failover, old)

    # Back once every socket has had a message sent after the kill answered.
    def recovered() -> float | None:
        times = []
        for sock in sockets:
            after = [t for n, t in sock.answered.items() if sock.sent[n] > kill_at]
            if not after:
                return None
            times.append(min(after))
        return max(times)

    deadline = time.monotonic() + 60
    while (recovered_at := recovered()) is None:
        assert time.monotonic() < deadline, "service did not come back"
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)  # steady again
    stop.set()
    await asyncio.gather(*talkers)
    await asyncio.sleep(ANSWER_WAIT)  # late answers
    room_after = await room_round("after")
    for ws in echo + room:
        assert ws.state is websockets.State.OPEN, "a socket was closed"
    for ws in echo + room:
        await ws.close()
    await asyncio.gather(*readers, return_exceptions=True)
    return kill_at, recovered_at, sockets, room_before, room_after


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
        CHANNELS_TEST_REDIS_HOSTS=json.dumps(hosts),
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
