"""Deploys drop nothing: workers restart under load, no connection or message
is lost.

Real processes on a Redis of their own: 2 interface servers
(``runwsserver --accept-all``), 3 workers, 500 WebSockets spread over both
servers, each sending a numbered message, waiting for its echo and sending
the next, plus a few HTTP clients requesting in a loop. Meanwhile every
worker is restarted with SIGTERM one at a time (rolling), then all three are
stopped at once and three new ones started with new code (another
REPLY_PREFIX). Passing means: no WebSocket closed, every message answered
exactly once, every HTTP request answered 200, and everything sent once the
old workers were gone answered by the new code.

It runs twice: with the deploy project's raised channel capacities on one
Redis (CHANNELS_DEPLOY_SHARDS=N: on N), and at the backend's default
capacities (100 per channel, fewer than the 500 frames queued while no
worker runs) with the channels sharded over three Redis servers.

Run with ``-s`` to see the figures (sockets, messages, requests, timings).
CHANNELS_DEPLOY_CLUSTER=1 runs both on a local Redis Cluster (3 primaries,
3 replicas) instead.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import resource
import signal
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.backends.redis_cluster import LocalCluster
from tests.backends.redis_servers import start_servers
from tests.processes import Process, ProjectProcesses, manage

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]

SOCKETS = 500
SERVERS = 2
WORKERS = 3
#: Seconds each WebSocket client pauses between two round trips (jittered).
PAUSE = 1.0
#: Concurrent HTTP clients, each requesting in a loop with a short pause.
HTTP_CLIENTS = 8
HTTP_PAUSE = 0.05
#: Longer than any worker outage; the interface servers wait as long for a
#: reply (--http-timeout) and the backend keeps messages longer (EXPIRY 120).
REPLY_TIMEOUT = 90.0
#: Upper bound on messages per socket (the loops are bounded in count too).
MAX_PER_SOCKET = 200
#: Seconds the slow view takes (in progress when its worker gets SIGTERM).
SLOW = 1.5
#: Redis servers the channels are sharded over.
SHARDS = int(os.environ.get("CHANNELS_DEPLOY_SHARDS", "1"))
CLUSTER = os.environ.get("CHANNELS_DEPLOY_CLUSTER") == "1"


@dataclass
class Tally:
    """Everything the clients saw."""

    connected: int = 0
    #: (socket, seq) -> number of replies carrying that message's text.
    answers: collections.Counter = field(default_factory=collections.Counter)
    #: (socket, seq, sent at, answered at, prefix, pid) per answered message.
    replies: list = field(default_factory=list)
    sent: set = field(default_factory=set)
    unexpected: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    dropped: list = field(default_factory=list)
    #: (sent at, answered at, status, prefix, pid) per HTTP request.
    http: list = field(default_factory=list)
    http_errors: list = field(default_factory=list)


class Deployment(ProjectProcesses):
    """The deploy project on Redis servers of the test's own: interface
    servers and workers, and the workers retired by the deploy."""

    def __init__(
        self, tmp: Path, redis_url: str, default_capacity: bool = False, cluster: bool = False
    ) -> None:
        env = {"DEPLOY_DEFAULT_CAPACITY": "1"} if default_capacity else {}
        if cluster:
            env["DEPLOY_CLUSTER"] = "1"  # the Redis URLs are seed nodes of a cluster
        super().__init__(
            tmp, "deploy_project.settings", "redis", prefix="deploy-", redis_url=redis_url, **env
        )
        self.prefix = self.env["CHANNELS_TEST_PREFIX"]
        self.ports: list[int] = []
        self.retired: list[Process] = []

    def start_server(self) -> int:
        """An interface server waiting as long as a deploy lasts for replies."""
        _, port = super().start_server("--http-timeout", str(REPLY_TIMEOUT))
        self.ports.append(port)
        return port

    def spawn_worker(self, version: str) -> Process:
        """Start a worker answering with ``version`` (not waited for)."""
        proc = self.spawn(
            manage("runworker", "-v", "1"), f"worker-{version}-", REPLY_PREFIX=version
        )
        self.workers.append(proc)
        return proc

    def stop_worker(self, proc: Process, timeout: float = 30, signalled: bool = False) -> int:
        """SIGTERM (unless sent already) and wait: the worker finishes the
        message in hand and exits."""
        if not signalled:
            proc.signal(signal.SIGTERM)
        code = proc.wait(timeout)
        self.workers.remove(proc)
        self.retired.append(proc)
        return code

    def logs(self) -> str:
        """The last output of every process, each under its log's name."""
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-3000:]}" for p in self.processes)


def raise_fd_limit(needed: int) -> None:
    """500 client sockets, the servers' and the workers' inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * SOCKETS + 200:
        pytest.skip(f"open file limit {soft} is too low for {SOCKETS} sockets")


async def ws_client(index: int, url: str, tally: Tally, opened, stop: asyncio.Event) -> None:
    """Open a socket, then round trips until ``stop``; check the tail is quiet."""
    ws = await connect(url, open_timeout=60, ping_interval=None, compression=None, close_timeout=10)
    tally.connected += 1
    if tally.connected == SOCKETS:
        opened.set()
    loop = asyncio.get_running_loop()
    rng = random.Random(index)
    try:
        await opened.wait()
        await asyncio.sleep(rng.uniform(0, PAUSE))
        seq = 0
        while not stop.is_set() and seq < MAX_PER_SOCKET:
            seq += 1
            text = f"{index}:{seq}"
            sent_at = loop.time()
            tally.sent.add((index, seq))
            await ws.send(text)
            deadline = sent_at + REPLY_TIMEOUT
            while True:
                try:
                    reply = await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
                except TimeoutError:
                    tally.lost.append((index, seq))
                    return
                prefix, pid, body = reply.split("|", 2)
                answered = tuple(int(x) for x in body.split(":"))
                tally.answers[answered] += 1
                if body == text:
                    tally.replies.append((index, seq, sent_at, loop.time(), prefix, pid))
                    break
                tally.unexpected.append((index, seq, reply))
            await asyncio.sleep(rng.uniform(0.5 * PAUSE, 1.5 * PAUSE))
        # Nothing more may come: a late reply would be a duplicate.
        try:
            extra = await asyncio.wait_for(ws.recv(), 2.0)
            tally.unexpected.append((index, seq, extra))
            tally.answers[tuple(int(x) for x in extra.split("|", 2)[2].split(":"))] += 1
        except TimeoutError:
            pass
    except ConnectionClosed as closed:
        tally.dropped.append((index, closed.rcvd.code if closed.rcvd else None))
        return
    await ws.close()


async def http_client(
    index: int, base: str, tally: Tally, stop: asyncio.Event, limit: int = 5000
) -> None:
    """Requests one after the other until ``stop``; every one must be a 200."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=base, timeout=REPLY_TIMEOUT + 10) as client:
        for n in range(limit):
            if stop.is_set():
                return
            sent_at = loop.time()
            try:
                response = await client.get("/hello/", params={"n": f"{index}:{n}"})
            except httpx.HTTPError as exc:
                tally.http_errors.append((index, n, repr(exc)))
                continue
            prefix, pid, body = (response.text.split("|", 2) + ["", ""])[:3]
            if body != f"{index}:{n}":
                tally.http_errors.append((index, n, response.status_code, response.text[:200]))
            tally.http.append((sent_at, loop.time(), response.status_code, prefix, pid))
            await asyncio.sleep(HTTP_PAUSE)


async def slow_request(port: int, n: int) -> tuple[int, str, float]:
    """(status, version, seconds) of one /slow/ request."""
    async with httpx.AsyncClient(timeout=REPLY_TIMEOUT + 10) as client:
        started = asyncio.get_running_loop().time()
        response = await client.get(
            f"http://127.0.0.1:{port}/slow/", params={"n": f"slow:{n}", "s": SLOW}
        )
        elapsed = asyncio.get_running_loop().time() - started
        return response.status_code, response.text.split("|", 1)[0], round(elapsed, 2)


@pytest.mark.parametrize(
    ("shards", "default_capacity"),
    [(SHARDS, False), (3, True)],
    ids=["raised-capacities", "default-capacities-3-shards"],
)
def test_workers_restart_under_load_drop_nothing(tmp_path, shards, default_capacity):
    raise_fd_limit(4096)
    cluster = LocalCluster() if CLUSTER else None
    redis_servers = cluster.primaries() if cluster is not None else start_servers(shards)
    deploy = None
    try:
        deploy = Deployment(
            tmp_path,
            ",".join(server.url for server in redis_servers),
            default_capacity,
            cluster=cluster is not None,
        )
        # Our own servers, but flush our prefix anyway: a clean slate.
        for server in redis_servers:
            keys = redis.Redis.from_url(server.url)
            for key in keys.scan_iter(match=deploy.prefix + "*"):
                keys.delete(key)
        ports = [deploy.start_server() for _ in range(SERVERS)]
        for proc in [deploy.spawn_worker("v1") for _ in range(WORKERS)]:
            proc.wait_for_output("serving")
        figures, tally = asyncio.run(scenario(deploy, ports))
        check(deploy, figures, tally)
    except BaseException:
        if deploy is not None:
            print(deploy.logs())
        raise
    finally:
        if deploy is not None:
            deploy.stop()
        for server in cluster.nodes if cluster is not None else redis_servers:
            server.cleanup()


async def until(predicate, what: str, timeout: float = 60.0) -> None:
    """Wait (polling, bounded) until ``predicate()`` holds: the scenario's
    readiness signals, instead of sleeping and hoping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.05)


def sockets_answered(tally: Tally, since: float = 0.0, by: str | None = None) -> set[int]:
    """Sockets with a reply to a message sent at ``since`` or later (by code ``by``)."""
    return {r[0] for r in tally.replies if r[2] >= since and (by is None or r[4] == by)}


async def scenario(deploy: Deployment, ports: list[int]) -> tuple[dict, Tally]:
    tally = Tally()
    loop = asyncio.get_running_loop()
    opened, stop = asyncio.Event(), asyncio.Event()
    figures: dict = {"sockets": SOCKETS, "servers": SERVERS, "workers": WORKERS}
    t0 = loop.time()

    clients = []
    for start in range(0, SOCKETS, 50):
        batch = [
            asyncio.create_task(
                ws_client(i, f"ws://127.0.0.1:{ports[i % SERVERS]}/echo/", tally, opened, stop)
            )
            for i in range(start, min(start + 50, SOCKETS))
        ]
        clients += batch
        await asyncio.sleep(0.1)
    await asyncio.wait_for(opened.wait(), 60)
    figures["connect_s"] = round(loop.time() - t0, 2)
    http = [
        asyncio.create_task(http_client(i, f"http://127.0.0.1:{ports[i % SERVERS]}", tally, stop))
        for i in range(HTTP_CLIENTS)
    ]
    # Steady state on the first workers: every socket has had an answer.
    await until(lambda: len(sockets_answered(tally)) == SOCKETS, "every socket answered")

    def failed_early() -> None:
        done = [t for t in clients + http if t.done()]
        for task in done:
            task.result()  # an exception in a client: fail with it
        assert not done, f"{len(done)} clients ended before the deploy was over"

    # Rolling: one worker at a time, its replacement serving before the next.
    t_roll = loop.time()
    for old in list(deploy.workers):
        code = await asyncio.to_thread(deploy.stop_worker, old)
        assert code == 0, old.output()
        new = deploy.spawn_worker("v1")
        await asyncio.to_thread(new.wait_for_output, "serving")
        # The replacement takes its share before the next worker goes.
        pid = str(new.popen.pid)
        await until(
            lambda pid=pid: any(r[5] == pid for r in tally.replies), f"worker {pid} answering"
        )
        failed_early()
    figures["rolling_restart_s"] = round(loop.time() - t_roll, 2)
    rolled = loop.time()
    await until(lambda: len(sockets_answered(tally, rolled)) == SOCKETS, "all served after rolling")

    # All at once, with new code: nobody serves until the new workers start.
    # Slow requests first, so the workers are told to stop mid-consumer.
    slow = [asyncio.create_task(slow_request(ports[i % SERVERS], i)) for i in range(WORKERS)]
    olds = list(deploy.workers)
    await until(
        lambda: any("slow view started" in old.output() for old in olds), "a slow view started"
    )
    t_down = loop.time()
    for old in olds:
        old.signal(signal.SIGTERM)
    for old in olds:
        code = await asyncio.to_thread(deploy.stop_worker, old, signalled=True)
        assert code == 0, old.output()
    t_gone = loop.time()
    await asyncio.sleep(1)  # a real outage: requests and frames pile up
    t_spawn = loop.time()
    news = [deploy.spawn_worker("v2") for _ in range(WORKERS)]
    for new in news:
        await asyncio.to_thread(new.wait_for_output, "serving")
    t_up = loop.time()
    figures["stop_all_s"] = round(t_gone - t_down, 2)
    figures["outage_s"] = round(t_up - t_gone, 2)
    new_pids = {str(p.popen.pid) for p in news}
    # Every socket makes round trips on the new code (two answered, sent
    # after the new workers were serving).
    await until(
        lambda: (
            all(
                n >= 2
                for n in collections.Counter(
                    r[0] for r in tally.replies if r[2] >= t_up and r[4] == "v2"
                ).values()
            )
            and len(sockets_answered(tally, t_up, "v2")) == SOCKETS
        ),
        "every socket answered twice by the new code",
        timeout=REPLY_TIMEOUT,
    )
    failed_early()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*clients, *http), REPLY_TIMEOUT + 30)
    figures["total_s"] = round(loop.time() - t0, 2)
    figures.update(t_gone=t_gone, t_spawn=t_spawn, new_pids=sorted(new_pids))
    figures["slow"] = await asyncio.gather(*slow)
    return figures, tally


def check(deploy: Deployment, figures: dict, tally: Tally) -> None:
    t_gone, t_spawn = figures.pop("t_gone"), figures.pop("t_spawn")
    new_pids = set(figures["new_pids"])
    # Sent before any new worker existed, answered by one: they waited in
    # Redis through the outage.
    waited = [r for r in tally.replies if r[2] < t_spawn and r[4] == "v2"]
    http_waited = [h for h in tally.http if h[0] < t_spawn and h[3] == "v2"]
    after = [r for r in tally.replies if r[2] >= t_gone]
    http_after = [h for h in tally.http if h[0] >= t_gone]
    figures.update(
        messages_sent=len(tally.sent),
        messages_answered=len(tally.replies),
        messages_waiting_for_new_workers=len(waited),
        http_requests=len(tally.http),
        http_requests_waiting_for_new_workers=len(http_waited),
        slowest_reply_s=round(max(r[3] - r[2] for r in tally.replies), 2),
        slowest_http_s=round(max(h[1] - h[0] for h in tally.http), 2),
    )
    print(json.dumps(figures, indent=1))
    assert tally.connected == SOCKETS
    assert tally.dropped == [], f"{len(tally.dropped)} sockets closed: {tally.dropped[:10]}"
    assert tally.lost == [], f"{len(tally.lost)} messages unanswered: {tally.lost[:10]}"
    assert tally.unexpected == [], f"unexpected replies: {tally.unexpected[:10]}"
    assert set(tally.answers) == tally.sent
    assert all(count == 1 for count in tally.answers.values())
    assert len(tally.replies) == len(tally.sent)
    assert tally.http_errors == [], tally.http_errors[:10]
    assert {h[2] for h in tally.http} == {200}
    # Workers stopped mid-consumer finished it (old code, after SIGTERM).
    assert {status for status, _, _ in figures["slow"]} == {200}, figures["slow"]
    assert "v1" in {version for _, version, _ in figures["slow"]}, figures["slow"]
    # The outage was real: frames and requests waited for the new workers.
    assert len(waited) >= SOCKETS // 10 and http_waited, (len(waited), len(http_waited))
    # Once the old workers were gone, only the new code answered...
    assert {(r[4], r[5] in new_pids) for r in after} == {("v2", True)}
    assert {(h[3], h[4] in new_pids) for h in http_after} == {("v2", True)}
    # ...and every socket talked to it.
    assert {r[0] for r in after} == set(range(SOCKETS))
    # Before that, only the old code.
    assert {r[4] for r in tally.replies if r[3] < t_gone} == {"v1"}
    for proc in deploy.retired:
        assert proc.popen.returncode == 0
        assert "Traceback" not in proc.output(), proc.output()
    for proc in deploy.servers:
        assert proc.popen.poll() is None
        assert "Traceback" not in proc.output(), proc.output()
