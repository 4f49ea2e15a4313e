"""Profile every server process of a peer under one load, with py-spy.

    python bench/profiles/profile.py --peer ours --load ws50 --tag before
    python bench/profiles/profile.py --peer ours --load http10 --tag before
    python bench/profiles/profile.py --peer ours --load http1 --tag before

Starts the peer as ``bench/peers/run.py`` does (server processes and a
private Redis pinned to CPU 0, load and py-spy on CPU 1), attaches
``py-spy record --native`` to each server process for the measured window of
the load (WebSocket echo with 50 clients, or ``wrk -c10`` or ``-c1`` on ``/hello/``),
and writes to ``bench/profiles/<tag>/``:

* ``<peer>-<load>-<process>.speedscope.json``: the flame graph (open it at
  speedscope.app, or any speedscope viewer; "Left Heavy" is the flame graph);
* ``<peer>-<load>.md``: throughput and CPU per message of the run (with
  py-spy attached, so a little higher than without), Redis's own command
  statistics, and the hottest functions of each process (self and total
  share of its GIL-holding samples: ``--gil``, since py-spy cannot tell
  idle threads here).

py-spy needs ptrace rights (root, or ``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "peers"))

import peers  # noqa: E402  (bench/peers: the peers, their processes and pinning, the loads)
import processes  # noqa: E402
import run  # noqa: E402
import workloads  # noqa: E402


def pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy not found: pip install py-spy (into this venv)")
    return found


def start_profilers(
    running, args, out: Path, stem: str
) -> list[tuple[str, Path, subprocess.Popen]]:
    procs = []
    for label, proc, _ in running.procs:
        path = out / f"{stem}-{label}.speedscope.json"
        cmd = processes.taskset(
            args.client_cpus,
            [
                pyspy(), "record", "--pid", str(proc.pid), "--native", "--function",
                "--gil",
                "--rate", str(args.rate), "--duration", str(int(args.duration)),
                "--format", "speedscope", "--output", str(path),
            ],
        )  # fmt: skip
        procs.append(
            (label, path, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        )
    return procs


#: (label, frame-name prefixes): a sample counts in the first group that
#: has a frame on its stack (checked in this order).
GROUPS = [
    ("Redis round trips (redis-py, hiredis, socket calls)", ("Shard.request",)),
    ("msgpack encode/decode", ("encode", "decode", "packb", "unpackb", "Packer.")),
    ("backend Python (validation, scripts' arguments, prefetch)", (
        "RedisChannelBackend.", "BaseChannelBackend.", "DatabaseChannelBackend.",
        "validate_channel_name", "inbox_of",
    )),
    ("thread hand-offs (Condition, callFromThread)", (
        "Condition.", "callFromThread", "BatchSender.send", "_settle",
    )),
    ("Django (request handling, close_old_connections, signals)", (
        "close_old_connections", "ViewConsumer", "WSGIHandler", "BaseHandler",
        "Signal.send", "ASGIRequest",
    )),
    ("Twisted and Autobahn (sockets, HTTP, WebSocket framing)", (
        "WebSocketProtocol.", "HTTPChannel.", "EPollReactor.", "_PollLikeMixin.",
        "Protocol.", "Connection.", "LineReceiver.",
    )),
]  # fmt: skip


def breakdown(doc: dict) -> list[str]:
    """Share of GIL-holding samples per group of GROUPS (rest: everything else)."""
    frames = doc["shared"]["frames"]
    counts = {label: 0.0 for label, _ in GROUPS}
    rest = total = 0.0
    for prof in doc["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            if not stack:
                continue
            total += weight
            names = [frames[i]["name"] for i in stack]
            for label, prefixes in GROUPS:
                if any(name.startswith(prefixes) for name in names):
                    counts[label] += weight
                    break
            else:
                rest += weight
    if not total:
        return []
    lines = [f"  {100 * c / total:5.1f}%  {label}" for label, c in counts.items()]
    lines.append(f"  {100 * rest / total:5.1f}%  everything else (routing, consumers, loops)")
    return ["by kind (first match on the stack, in this order):", *lines]


def hottest(path: Path, top: int = 18) -> tuple[int, list[str]]:
    """(sampled seconds, lines) of the hottest functions by self and total share."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    names = [f"{f['name']} ({Path(f.get('file') or '?').name})" for f in frames]
    own: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    threads: collections.Counter = collections.Counter()
    count = 0
    for prof in doc["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            if not stack:
                continue
            count += weight
            threads[prof["name"]] += weight
            own[names[stack[-1]]] += weight
            for name in {names[i] for i in stack}:
                total[name] += weight
    if not count:
        return 0, ["(no samples)"]
    lines = ["threads: " + ", ".join(f"{n} {100 * c / count:.0f}%" for n, c in threads.items())]
    lines += ["", *breakdown(doc)]
    lines += ["", "self:"]
    lines += [f"  {100 * c / count:5.1f}%  {n}" for n, c in own.most_common(top)]
    lines += ["", "total (on the stack):"]
    lines += [f"  {100 * c / count:5.1f}%  {n}" for n, c in total.most_common(top + 7)]
    return count, lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", default="ours")
    p.add_argument("--load", choices=["ws50", "http10", "http1"], default="ws50")
    p.add_argument("--tag", default="now", help="folder under bench/profiles/")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    mine, rest = p.parse_known_args(argv)
    args = run.parse_args(["--peers", mine.peer, *rest])
    args.duration, args.rate = mine.duration, mine.rate
    peer = peers.build_peers(args)[mine.peer]
    out = HERE / mine.tag
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{mine.peer}-{mine.load}"
    report = [
        f"# {mine.peer}, {mine.load}: py-spy --native --gil --function at {mine.rate} Hz",
        "",
        "Only samples of the thread holding the GIL count (py-spy cannot tell an idle",
        "thread here: without --gil, waits in poll and lock acquires dominate), so",
        "this is where the Python-level CPU goes; system-call time is the rest of",
        "the process's CPU below.",
        "",
    ]
    with (
        processes.Redis(args.redis_port, args.server_cpus, not args.external_redis) as redis,
        processes.Running(peer, args.server_cpus, redis) as running,
    ):
        # warm up: imports, connections, caches
        subprocess.run(
            processes.taskset(args.client_cpus, ["wrk", "-t1", "-c10", "-d2s",
                          f"http://{peers.HOST}:{peer.port}/hello/"]),
            capture_output=True, timeout=60,
        )  # fmt: skip
        loads = []
        if mine.load == "ws50":
            url = f"ws://{peers.HOST}:{peer.port}/ws/echo/"
            # the profilers start once the sockets are open and warmed up
            loadgen = [
                "echo", "--url", url, "--clients", "50", "--warmup", "2",
                "--duration", str(mine.duration + 1),
            ]  # fmt: skip
            profilers: list = []

            def on_phase(name: str) -> None:
                if name == "measure":
                    profilers.extend(start_profilers(running, args, out, stem))
                    time.sleep(0.3)  # attached before the window's CPU is read

            loads.append(workloads.run_echo(args, running, loadgen, mine.duration + 90, on_phase))
        else:
            redis.reset_stats()
            profilers = start_profilers(running, args, out, stem)
            time.sleep(0.5)
            before = running.cpu_sample()
            cmd = processes.taskset(
                args.client_cpus,
                ["wrk", "-t1", f"-c{mine.load[4:]}", f"-d{int(mine.duration)}s", "--latency",
                 f"http://{peers.HOST}:{peer.port}/hello/"],
            )  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=mine.duration + 60)
            after = running.cpu_sample()
            result = workloads.parse_wrk(done.stdout)
            count = result.get("requests") or 0
            result["cpu_us"] = processes.cpu_per_message(running, before, after, count)
            result["redis_commands"] = redis.command_stats(count)
            loads.append(result)
        for _, _, proc in profilers:
            try:
                proc.wait(mine.duration + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
    result = loads[0]
    rate = result.get("msgs_per_s") or result.get("rps")
    report += [
        f"- throughput: {rate} per second (p50 {result.get('p50_ms')} ms, "
        f"p99 {result.get('p99_ms')} ms)",
        f"- CPU per message, µs: {json.dumps(result.get('cpu_us', {}).get('processes'))}, "
        f"all {result.get('cpu_us', {}).get('total')}",
        f"- Redis commands per message: {json.dumps(result.get('redis_commands'))}",
        "",
    ]
    for label, path, proc in profilers:
        if not path.exists():
            err = proc.stderr.read().decode()[-300:] if proc.stderr else ""
            report += [f"## {label}: no profile ({err})", ""]
            continue
        count, lines = hottest(path)
        report += [
            f"## {label}: {count} busy samples (`{path.name}`)",
            "",
            "```",
            *lines,
            "```",
            "",
        ]
    (out / f"{stem}.md").write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
