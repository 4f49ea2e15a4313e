"""Side-by-side benchmark of this project against its peers, on this machine.

    python bench/peers/run.py --peers ours,channels4,channels1,uvicorn \
        --workloads http,ws,broadcast,memory --runs 3

Each run starts every peer in turn (its own venv, see setup_peers.sh), runs the
workloads against it, stops it. The server side (interface server, workers and
a private Redis) is pinned to ``--server-cpus`` and the load generators (wrk,
the asyncio WebSocket client) to ``--client-cpus``. Raw results go to
``bench/results/<stamp>.json``; the medians over runs, with versions and ratios
(ours / peer), to ``bench/RESULTS.md`` (``--no-markdown`` to skip).

Only the standard library is used here; wrk and the client venv do the load.
Every load loop is bounded in count and time, and only loopback is targeted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from peers import ALL_PEERS, HOST, HTTP_ONLY, REPO, build_peers, versions
from processes import Redis, Running
from report import render_markdown, short, summarize
from workloads import ALL_WORKLOADS, WORKLOADS

RESULTS_DIR = REPO / "bench" / "results"
RESULTS_MD = REPO / "bench" / "RESULTS.md"


def git_describe() -> str:
    """The checkout ours ran from (``-dirty``: with uncommitted changes)."""
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info() -> dict:
    """CPU, platform and Python of this machine, for the record."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "node": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def free_port(port: int) -> bool:
    """Whether nothing listens on ``port`` of HOST."""
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def default_ours_python() -> Path:
    """The checkout's .venv interpreter, else /work/venv's."""
    local = REPO / ".venv" / "bin" / "python"
    return local if local.exists() else Path("/work/venv/bin/python")


def parse_args(argv):
    """The command line, with the lists split and checked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", default=",".join(ALL_PEERS))
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="runworker processes for ours and channels1 (default 1)",
    )
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument(
        "--redis-port",
        type=int,
        default=6399,
        help="port of the Redis the peers share (default: a private one on 6399)",
    )
    p.add_argument(
        "--external-redis",
        action="store_true",
        help="use a Redis already running on --redis-port instead of starting one",
    )
    p.add_argument("--base-port", type=int, default=8710)
    p.add_argument(
        "--postgres",
        default=os.environ.get(
            "CHANNELS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL of ours-postgres (its tables go in schema bench_peers_ours)",
    )
    p.add_argument(
        "--ours-python",
        default=os.environ.get("BENCH_OURS_PYTHON", str(default_ours_python())),
        help="interpreter with this checkout installed (default: the checkout's .venv)",
    )
    p.add_argument(
        "--baseline-python",
        default="",
        help="interpreter of an older checkout, measured as peer ours-baseline",
    )
    p.add_argument("--http-duration", type=int, default=10)
    p.add_argument("--http-concurrency", default="1,10,100")
    p.add_argument("--ws-duration", type=float, default=8.0)
    p.add_argument(
        "--ws-engine",
        choices=["sansio", "asyncio"],
        default="sansio",
        help="echo load generator (see bench/peers/README.md; asyncio is the older, costlier one)",
    )
    p.add_argument("--broadcast-sockets", type=int, default=500)
    p.add_argument("--broadcasts", type=int, default=7)
    p.add_argument("--idle-sockets", type=int, default=1000)
    p.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="channel capacity for every peer's backend (default: each backend's own)",
    )
    p.add_argument("--no-markdown", action="store_true", help="write the JSON only")
    p.add_argument(
        "--render",
        metavar="JSON",
        help="only write bench/RESULTS.md again from this raw result (no measuring)",
    )
    p.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="JSON",
        help="take peers missing from this run from an earlier raw result",
    )
    args = p.parse_args(argv)
    args.peer_list = [x for x in args.peers.split(",") if x]
    args.workload_list = [x for x in args.workloads.split(",") if x]
    args.http_concurrency = [int(x) for x in args.http_concurrency.split(",")]
    bad = set(args.peer_list) - set(ALL_PEERS) | set(args.workload_list) - set(ALL_WORKLOADS)
    if bad:
        p.error(f"unknown: {', '.join(sorted(bad))}")
    return args


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    """Measure (or with ``--render`` only tabulate); exit status."""
    args = parse_args(argv)
    if args.render:
        RESULTS_MD.write_text(render_markdown(json.loads(Path(args.render).read_text())))
        print(f"table: {RESULTS_MD}", file=sys.stderr)
        return 0
    # stop cleanly (every peer process we started) on SIGTERM, and on SIGINT
    # even when started in the background (where SIGINT is ignored)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    peers = build_peers(args)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    doc: dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": "python bench/peers/run.py "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "runs": args.runs,
        "ours_commit": git_describe(),
        "workers": args.workers,
        "capacity": args.capacity or "each backend's default",
        "server_cpus": args.server_cpus,
        "client_cpus": args.client_cpus,
        "workloads": args.workload_list,
        "peers": {},
        "not_measured": {},
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    raw_path = RESULTS_DIR / f"peers-{stamp}.json"
    doc["raw_file"] = str(raw_path.relative_to(REPO))

    active = []
    for name in args.peer_list:
        peer = peers[name]
        if not peer.python.exists():
            doc["not_measured"][name] = f"no interpreter at {peer.python} (run setup_peers.sh)"
            continue
        if not free_port(peer.port):
            doc["not_measured"][name] = f"port {peer.port} busy"
            continue
        doc["peers"][name] = {
            "title": peer.title,
            "versions": versions(peer),
            "runs": [],
            "errors": [],
        }
        active.append(peer)

    with Redis(args.redis_port, args.server_cpus, not args.external_redis) as redis:
        doc["redis_version"] = redis.version()
        for run in range(args.runs):
            for peer in active:
                entry = doc["peers"][peer.name]
                result: dict = {"run": run + 1, "loadavg_before": os.getloadavg()}
                print(f"[run {run + 1}/{args.runs}] {peer.name}", file=sys.stderr, flush=True)
                try:
                    with Running(peer, args.server_cpus, redis, args.capacity) as running:
                        wls = args.workload_list
                        if peer.name in HTTP_ONLY:
                            wls = [w for w in wls if w == "http"]
                        # memory first: measured on a fresh, warmed-up server
                        for wl in sorted(wls, key=lambda w: w != "memory"):
                            t0 = time.monotonic()
                            if wl == "memory":
                                urllib.request.urlopen(
                                    f"http://{HOST}:{peer.port}/hello/", timeout=10
                                ).read()
                            result[wl] = WORKLOADS[wl](peer, args, running)
                            dead = running.check_alive()
                            if dead:
                                result.setdefault("died", []).extend(dead)
                            print(
                                f"    {wl}: {time.monotonic() - t0:.0f}s "
                                f"{json.dumps(short(wl, result[wl]))}",
                                file=sys.stderr,
                                flush=True,
                            )
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    result["error"] = str(exc)
                    entry["errors"].append(f"run {run + 1}: {exc}")
                    print(f"    error: {exc}", file=sys.stderr, flush=True)
                entry["runs"].append(result)
                entry["summary"] = summarize([r for r in entry["runs"] if "error" not in r])
                raw_path.write_text(json.dumps(doc, indent=1))

    for merge in args.merge:
        old = json.loads(Path(merge).read_text())
        for name, data in old.get("peers", {}).items():
            if name not in doc["peers"]:
                data["title"] += f" (from {Path(merge).name})"
                doc["peers"][name] = data
    raw_path.write_text(json.dumps(doc, indent=1))
    print(f"raw results: {raw_path}", file=sys.stderr)
    if not args.no_markdown:
        RESULTS_MD.write_text(render_markdown(doc))
        print(f"table: {RESULTS_MD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
