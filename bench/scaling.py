"""How cost grows: WebSocket echo against workers, interface processes and
message size; broadcast time against group size; interface memory against
open sockets. Writes the raw figures and PNG plots to ``bench/plots/``.

    python bench/scaling.py --redis-port 6451 --base-port 9010 --runs 3
    python bench/scaling.py --plot bench/plots/scaling-STAMP.json   # plots only

The machinery is bench/peers/'s: the ``ours`` peer's project and commands,
its private Redis, processes pinned with taskset (server side on
``--server-cpus``, load generators on ``--client-cpus``), CPU time read from
/proc, and ``loadgen_ws.py`` as the load generator. What this script adds:
several interface processes (one port each, the load spread over them),
several load-generator processes at once, and ``client``: a broadcast
member process that this script runs in the ``client`` venv, so that 10,000
group members can be spread over a few client processes.

Every load loop is bounded in count and time, and only loopback is used.
Matplotlib (``pip install -e ".[bench]"``) is needed for the plots only.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

from peers import HOST, Peer, build_peers  # noqa: E402
from processes import Redis, Running, cpu_per_message, rss_kib, stop_process, taskset  # noqa: E402
from run import default_ours_python, free_port, git_describe, machine_info  # noqa: E402
from scaling_plots import plot, summarize  # noqa: E402  (bench/, beside this file)
from workloads import LOADGEN_WS, client_python  # noqa: E402

PLOTS = HERE / "plots"
ALL_PARTS = ["workers", "size", "broadcast", "memory"]


# -- the server side ---------------------------------------------------------


def ours_peer(args: argparse.Namespace, interfaces: int, workers: int) -> Peer:
    """bench/peers' ``ours`` with ``interfaces`` runwsserver processes (ports
    from ``--base-port`` up) and ``workers`` runworker processes."""
    template = build_peers(
        SimpleNamespace(
            ours_python=args.ours_python,
            redis_port=args.redis_port,
            base_port=args.base_port,
            workers=workers,
            baseline_python="",
            postgres="",
        )
    )["ours"]
    server_label, server_argv, _ = template.procs[0]
    servers = [
        (f"{server_label}{i}", [*server_argv[:-1], f"{HOST}:{args.base_port + i}"], True)
        for i in range(interfaces)
    ]
    return dataclasses.replace(template, procs=[*servers, *template.procs[1:]])


def loadgen_cmd(args: argparse.Namespace, mode: str, **options) -> list[str]:
    """``loadgen_ws.py MODE --option value ...`` pinned to the client CPUs
    (``max_messages=5`` gives ``--max-messages 5``)."""
    argv = [client_python(), str(LOADGEN_WS), mode]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return taskset(args.client_cpus, argv)


def stop_clients(procs: list[subprocess.Popen], line: str) -> None:
    """Tell client processes to let go (``line`` on stdin), then wait for
    them; stop any that linger."""
    for proc in procs:
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            stop_process(proc, 5)


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` shares that differ by one at most."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def ports_of(args: argparse.Namespace, interfaces: int) -> list[int]:
    """The interface processes' ports."""
    return [args.base_port + i for i in range(interfaces)]


def wait_all_ready(args: argparse.Namespace, running: Running, interfaces: int) -> None:
    """Running waits for the first interface; wait for the others too."""
    first = running.peer
    try:
        for port in ports_of(args, interfaces)[1:]:
            running.peer = dataclasses.replace(first, port=port)
            running.wait_ready()
    finally:
        running.peer = first


# -- echo over several interface processes ------------------------------------


def echo(args: argparse.Namespace, running: Running, interfaces: int, size: int) -> dict:
    """``--sockets`` echo clients spread over the interface processes, one
    loadgen_ws.py process per interface; msgs/s and server CPU per message.

    The generators start together, so their measured windows nearly
    coincide. Server CPU is read from the moment the last one starts
    measuring to the moment the first one stops (a window in which every
    generator is loading), and set against the generators' summed message
    rate over the same span.
    """
    ports = ports_of(args, interfaces)
    share = split(args.sockets, len(ports))
    cmds = [
        loadgen_cmd(
            args,
            "echo",
            url=f"ws://{HOST}:{port}/ws/echo/",
            clients=n,
            size=size,
            duration=args.echo_seconds,
            warmup=1,
        )
        for port, n in zip(ports, share, strict=True)
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in cmds
    ]
    lock = threading.Lock()
    marks: dict[str, list[tuple[float, dict]]] = {"measure": [], "done": []}
    results: list[dict] = [{} for _ in procs]

    def read(i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            if line.startswith('{"phase"'):
                name = json.loads(line)["phase"]
                with lock:
                    # sample when the last starts measuring and the first stops
                    if name == "measure" or not marks["done"]:
                        marks[name].append((time.monotonic(), running.cpu_sample()))
            elif line.startswith("{"):
                results[i] = json.loads(line)

    readers = [threading.Thread(target=read, args=(i, p)) for i, p in enumerate(procs)]
    for t in readers:
        t.start()
    bound = args.echo_seconds + 60
    for t in readers:
        t.join(bound)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    out: dict = {"size": size, "interfaces": interfaces, "sockets": args.sockets}
    bad = [
        r.get("error") or f"exit {p.returncode}"
        for r, p in zip(results, procs, strict=True)
        if "msgs_per_s" not in r or p.returncode != 0
    ]
    if bad or len(marks["measure"]) != len(procs) or not marks["done"]:
        out["error"] = f"load generator failed: {bad or 'no measured window'}"[:800]
        return out
    (t0, before), (t1, after) = marks["measure"][-1], marks["done"][0]
    rate = sum(r["msgs_per_s"] for r in results)
    out["msgs_per_s"] = round(rate, 1)
    out["p99_ms"] = max(r["p99_ms"] for r in results if r.get("p99_ms") is not None)
    out["failures"] = sum(r.get("failures", 0) for r in results)
    out["loadgen_cpu"] = round(sum(r.get("loadgen_cpu") or 0 for r in results), 3)
    out["window_s"] = round(t1 - t0, 3)
    out["cpu_us"] = cpu_per_message(running, before, after, round(rate * (t1 - t0)))
    out["cmds"] = [" ".join(c) for c in cmds]
    return out


def part_echo(args: argparse.Namespace, redis: Redis, run: dict) -> None:
    """Every (interfaces, workers) point at 32 B; sizes on 1 + 1 processes."""
    for interfaces in args.interfaces:
        for workers in args.workers:
            sizes = args.sizes if (interfaces, workers) == (1, 1) and "size" in args.parts else [32]
            if "workers" not in args.parts and (interfaces, workers) != (1, 1):
                continue
            with Running(ours_peer(args, interfaces, workers), args.server_cpus, redis) as running:
                wait_all_ready(args, running, interfaces)
                for size in sizes:
                    res = echo(args, running, interfaces, size)
                    res["workers"] = workers
                    run["echo"].append(res)
                    say(f"  echo i={interfaces} w={workers} {size} B: {brief(res)}")
                    time.sleep(0.5)


# -- broadcast to a group spread over interfaces and client processes --------


def part_broadcast(args: argparse.Namespace, redis: Redis, run: dict) -> None:
    """Time until every member has a group message, per group size."""
    interfaces = args.broadcast_interfaces
    urls = [f"ws://{HOST}:{p}/ws/broadcast/" for p in ports_of(args, interfaces)]
    for members in args.group_sizes:
        peer = ours_peer(args, interfaces, args.broadcast_workers)
        with Running(peer, args.server_cpus, redis) as running:
            wait_all_ready(args, running, interfaces)
            res = broadcast(args, running, urls, members)
            run["broadcast"].append(res)
            say(f"  broadcast {members}: {brief(res)}")


def broadcast(args: argparse.Namespace, running: Running, urls: list[str], members: int) -> dict:
    """Open ``members`` sockets over ``args.client_procs`` client processes
    (each spread over every interface); one sends, time until all have it."""
    # a client process per 500 members, up to --client-procs
    nprocs = max(1, min(args.client_procs, -(-members // 500)))
    share = split(members, nprocs)
    # at most ~48 handshakes in flight in all: the connect channel's capacity is 100
    parallel = max(2, 48 // (nprocs * len(urls)))
    cmd = [
        client_python(),
        str(Path(__file__).resolve()),
        "client",
        "--urls",
        ",".join(urls),
        "--parallel",
        str(parallel),
        "--hold",
        str(args.broadcast_hold),
    ]
    procs = [
        subprocess.Popen(
            taskset(args.client_cpus, [*cmd, "--sockets", str(n)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for n in share
    ]
    out: dict = {"members": members, "interfaces": len(urls), "client_procs": nprocs}
    t_open = time.monotonic()
    try:
        opened = [ask(p, None, args.broadcast_hold) for p in procs]
        out["open"] = sum(o.get("open", 0) for o in opened)
        out["connect_errors"] = sum(o.get("errors", 0) for o in opened)
        out["open_seconds"] = round(time.monotonic() - t_open, 1)
        out["rss_kib_interfaces"] = sum(rss_kib(pid) for pid in running.interface_pids())
        rounds = []
        # Server CPU over all rounds (the pauses between them are idle, and
        # CPU is counted in 10 ms ticks), per member reached.
        before = running.cpu_sample()
        for k in range(args.broadcasts):
            token = f"t{k}-{time.time_ns()}"
            sent = ask(procs[0], f"send {token}", 10)
            got = [ask(p, f"report {token} {args.broadcast_timeout}", 60) for p in procs]
            count = sum(g.get("got", 0) for g in got)
            lasts = [g["last"] for g in got if g.get("last") is not None]
            firsts = [g["first"] for g in got if g.get("first") is not None]
            rounds.append(
                {
                    "delivered": count,
                    "first_ms": round((min(firsts) - sent["sent_at"]) * 1000, 2)
                    if firsts
                    else None,
                    "all_ms": round((max(lasts) - sent["sent_at"]) * 1000, 2)
                    if count == out["open"] and lasts
                    else None,
                }
            )
            time.sleep(args.broadcast_pause)
        after = running.cpu_sample()
        out["rounds"] = rounds
        reached = sum(r["delivered"] for r in rounds)
        out["cpu_us_per_member"] = cpu_per_message(running, before, after, reached)
        alls = [r["all_ms"] for r in rounds if r["all_ms"] is not None]
        out["all_ms_median"] = statistics.median(alls) if alls else None
        firsts = [r["first_ms"] for r in rounds if r["first_ms"] is not None]
        out["first_ms_median"] = statistics.median(firsts) if firsts else None
        out["rounds_all_delivered"] = len(alls)
    except (OSError, ValueError, KeyError, TimeoutError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"[:400]
    finally:
        stop_clients(procs, "quit")
    return out


def ask(proc: subprocess.Popen, line: str | None, timeout: float) -> dict:
    """Send a command line to a client process; its JSON answer (bounded)."""
    if line is not None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    answer: list[str] = []
    reader = threading.Thread(target=lambda: answer.append(proc.stdout.readline()))
    reader.start()
    reader.join(timeout)
    if not answer or not answer[0].startswith("{"):
        raise TimeoutError(f"client process gave no answer to {line!r} in {timeout} s")
    return json.loads(answer[0])


async def client_main(args: argparse.Namespace) -> None:
    """A broadcast member process: open sockets, then answer commands
    (``send TOKEN``, ``report TOKEN SECONDS``, ``quit``) read from stdin."""
    import asyncio

    from loadgen_ws import close_all, open_many  # the client venv has websockets

    urls = args.urls.split(",")
    socks, errors = [], []
    for url, n in zip(urls, split(args.sockets, len(urls)), strict=True):
        opened, errs = await open_many(url, n, args.parallel)
        socks += opened
        errors += errs
    arrivals: dict[str, list[float]] = {}

    async def reader(ws) -> None:
        try:
            async for msg in ws:
                arrivals.setdefault(msg, []).append(time.monotonic())
        except Exception:  # noqa: BLE001 - a lost member just stops counting
            return

    tasks = [asyncio.ensure_future(reader(ws)) for ws in socks]
    await asyncio.sleep(1)
    print(json.dumps({"open": len(socks), "errors": len(errors)}), flush=True)
    loop = asyncio.get_running_loop()
    end = time.monotonic() + args.hold
    while time.monotonic() < end:
        try:
            line = await asyncio.wait_for(
                loop.run_in_executor(None, sys.stdin.readline), end - time.monotonic()
            )
        except TimeoutError:
            break
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "send":
            sent_at = time.monotonic()
            await socks[0].send(cmd[1])
            print(json.dumps({"sent_at": sent_at}), flush=True)
        elif cmd[0] == "report":
            until = time.monotonic() + float(cmd[2])
            while len(arrivals.get(cmd[1], ())) < len(socks) and time.monotonic() < until:
                await asyncio.sleep(0.005)
            times = arrivals.pop(cmd[1], [])
            first, last = min(times, default=None), max(times, default=None)
            print(json.dumps({"got": len(times), "first": first, "last": last}), flush=True)
    for task in tasks:
        task.cancel()
    await close_all(socks)


# -- interface memory against open idle sockets -------------------------------


def part_memory(args: argparse.Namespace, redis: Redis, run: dict) -> None:
    """Interface RSS at each step of ``--idle-steps`` open idle sockets, the
    sockets held by one loadgen_ws.py ``idle`` process per step."""
    points: list[dict] = []
    holders: list[subprocess.Popen] = []
    with Running(ours_peer(args, 1, 1), args.server_cpus, redis) as running:
        pid = running.interface_pids()[0]
        time.sleep(1)
        opened = 0
        try:
            for step in args.idle_steps:
                want = step - opened
                if want > 0:
                    cmd = loadgen_cmd(
                        args,
                        "idle",
                        url=f"ws://{HOST}:{running.peer.port}/ws/echo/",
                        sockets=want,
                        settle=2,
                        hold=600,
                    )
                    proc = subprocess.Popen(
                        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                    )
                    holders.append(proc)
                    got = ask(proc, None, 180).get("open", 0)
                    opened += got
                    if got < want:
                        say(f"  memory: only {got} of {want} more opened at step {step}")
                points.append({"step": step, "open": opened, "rss_kib": rss_kib(pid)})
                say(f"  memory {opened} open: {points[-1]['rss_kib'] / 1024:.1f} MiB")
        finally:
            stop_clients(holders, "close")
    run["memory"] = points


# -- command line and the run loop ---------------------------------------------


def say(text: str) -> None:
    """A line of progress on stderr."""
    print(text, file=sys.stderr, flush=True)


def brief(res: dict) -> str:
    """One line of a result for the progress log."""
    if "error" in res:
        return "error: " + res["error"][:200]
    if "msgs_per_s" in res:
        return f"{res['msgs_per_s']} msgs/s, {res['cpu_us'].get('total')} µs/msg {res['cpu_us']}"
    if "members" in res:
        opened = f"open {res.get('open')} in {res.get('open_seconds')} s"
        return f"{opened}, all in {res.get('all_ms_median')} ms"
    return json.dumps(res)[:200]


def ints(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (list options)."""
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``client``: the internal broadcast member role)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode")
    c = sub.add_parser("client", help="(internal) a broadcast member process")
    c.add_argument("--urls", required=True)
    c.add_argument("--sockets", type=int, required=True)
    c.add_argument("--parallel", type=int, default=10)
    c.add_argument("--hold", type=float, default=300)
    p.add_argument("--parts", default=",".join(ALL_PARTS))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--redis-port", type=int, default=6451)
    p.add_argument("--base-port", type=int, default=9010)
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument("--ours-python", default=str(default_ours_python()))
    p.add_argument("--interfaces", type=ints, default=[1, 2])
    p.add_argument("--workers", type=ints, default=[1, 2, 4])
    p.add_argument("--sizes", type=ints, default=[32, 1024, 16384, 65536])
    p.add_argument("--sockets", type=int, default=50, help="echo clients")
    p.add_argument("--echo-seconds", type=float, default=5.0)
    p.add_argument("--group-sizes", type=ints, default=[100, 1000, 10000])
    p.add_argument("--broadcast-interfaces", type=int, default=2)
    p.add_argument("--broadcast-workers", type=int, default=2)
    p.add_argument("--client-procs", type=int, default=4, help="broadcast client processes")
    p.add_argument("--broadcasts", type=int, default=5)
    p.add_argument("--broadcast-timeout", type=float, default=10.0)
    p.add_argument("--broadcast-pause", type=float, default=0.5)
    p.add_argument("--broadcast-hold", type=float, default=300.0)
    p.add_argument("--idle-steps", type=ints, default=[0, 1000, 2500, 5000, 10000])
    p.add_argument("--memory-runs", type=int, default=3)
    p.add_argument("--out", default=str(PLOTS))
    p.add_argument("--plot", metavar="JSON", help="only draw the plots of this raw result")
    args = p.parse_args(argv)
    if args.mode is None:
        args.parts = [x for x in args.parts.split(",") if x]
        if set(args.parts) - set(ALL_PARTS):
            p.error(f"unknown part(s): {set(args.parts) - set(ALL_PARTS)}")
    return args


def raise_open_files() -> int:
    """Raise this process's soft limit on open files to its hard limit (the
    servers and clients started inherit it: 10,000 sockets need more than
    the usual 1,024), at most 65,536; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def main(argv: list[str] | None = None) -> int:
    """Measure (or only plot); exit status."""
    args = parse_args(argv)
    if args.mode == "client":
        import asyncio

        asyncio.run(client_main(args))
        return 0
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.plot:
        for path in plot(json.loads(Path(args.plot).read_text()), out_dir):
            say(f"plot: {path}")
        return 0
    open_files = raise_open_files()
    if open_files < 12_000 and {"broadcast", "memory"} & set(args.parts):
        say(f"open files limited to {open_files}: 10,000 sockets may fail (raise ulimit -n)")
    # stop cleanly (every process started) on SIGTERM too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    busy = [
        p
        for p in ports_of(args, max(*args.interfaces, args.broadcast_interfaces))
        if not free_port(p)
    ]
    if busy:
        say(f"ports busy: {busy}")
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    raw = out_dir / f"scaling-{stamp}.json"
    doc: dict = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": "python bench/scaling.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "ours_commit": git_describe(),
        "open_files_limit": open_files,
        "runs_asked": args.runs,
        "args": {k: v for k, v in vars(args).items() if k not in ("mode",)},
        "runs": [],
    }
    with Redis(args.redis_port, args.server_cpus, True) as redis:
        doc["redis_version"] = redis.version()
        for n in range(args.runs):
            run: dict = {
                "run": n + 1,
                "loadavg_before": list(os.getloadavg()),
                "echo": [],
                "broadcast": [],
            }
            doc["runs"].append(run)
            say(f"[run {n + 1}/{args.runs}] load {run['loadavg_before']}")
            if {"workers", "size"} & set(args.parts):
                part_echo(args, redis, run)
            if "broadcast" in args.parts:
                part_broadcast(args, redis, run)
            if "memory" in args.parts and n < args.memory_runs:
                part_memory(args, redis, run)
            doc["summary"] = summarize(doc)
            raw.write_text(json.dumps(doc, indent=1))
    say(f"raw results: {raw}")
    try:
        for path in plot(doc, out_dir):
            say(f"plot: {path}")
    except ImportError as exc:
        say(f"no plots ({exc}): pip install -e '.[bench]', then --plot {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
