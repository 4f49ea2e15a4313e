"""The workloads run against a started peer (http, ws, broadcast, memory):
each drives load from the client CPUs, bounded in count and time, and
returns its figures, with the server CPU they cost."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import threading
import time

from peers import HERE, HOST, VENVS, Peer
from processes import Running, cpu_per_message, rss_kib, taskset

LOADGEN_WS = HERE / "loadgen_ws.py"
ALL_WORKLOADS = ["http", "ws", "broadcast", "memory"]

WRK_LAT = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict:
    """Throughput, latency percentiles and errors from wrk's output."""
    res: dict = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    for q, value, unit in WRK_LAT.findall(out):
        res[f"p{q}_ms"] = round(float(value) * UNIT_MS[unit], 3)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return res


def workload_http(peer: Peer, args, running: Running) -> dict:
    """``wrk`` on ``/hello/`` at each ``--http-concurrency``."""
    url = f"http://{HOST}:{peer.port}/hello/"
    out: dict = {}
    # warm-up: import everything, fill caches (bounded: 2 s)
    subprocess.run(
        taskset(args.client_cpus, ["wrk", "-t1", "-c10", "-d2s", url]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    for conc in args.http_concurrency:
        cmd = taskset(
            args.client_cpus,
            [
                "wrk",
                "-t1",
                f"-c{conc}",
                f"-d{args.http_duration}s",
                "--timeout",
                "5s",
                "--latency",
                url,
            ],
        )
        if running.redis is not None:
            running.redis.reset_stats()
        before = running.cpu_sample()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.http_duration + 60)
        after = running.cpu_sample()
        res = parse_wrk(proc.stdout)
        # wrk connects before its clock starts and counts every request of
        # the run, so the window is the whole command: a few ms too long.
        res["cpu_us"] = cpu_per_message(running, before, after, res.get("requests") or 0)
        if running.redis is not None:
            res["redis_commands"] = running.redis.command_stats(res.get("requests") or 0)
        res["cmd"] = shlex.join(cmd)
        out[f"c{conc}"] = res
        time.sleep(1)
    return out


def client_python() -> str:
    """The load generators' interpreter (the ``client`` venv)."""
    return str(VENVS / "client" / "bin" / "python")


def run_loadgen(args, argv: list[str], timeout: float) -> dict:
    """``loadgen_ws.py`` with ``argv`` on the client CPUs; its JSON result."""
    cmd = taskset(args.client_cpus, [client_python(), str(LOADGEN_WS), *argv])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {
            "error": f"loadgen exited {proc.returncode}: {proc.stderr[-800:]}",
            "cmd": shlex.join(cmd),
        }
    res = json.loads(lines[-1])
    res["cmd"] = shlex.join(cmd)
    return res


def run_echo(args, running: Running, argv: list[str], timeout: float, on_phase=None) -> dict:
    """Run the echo load, reading server CPU over its measured window only.

    The load generator prints ``{"phase": "measure"}`` after its warm-up and
    ``{"phase": "done"}`` when its window closes; CPU is sampled at both,
    after ``on_phase(name)`` if given (the profiler attaches there).
    """
    cmd = taskset(args.client_cpus, [client_python(), str(LOADGEN_WS), *argv])
    samples: dict[str, dict[str, float]] = {}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            last = ""
            for line in proc.stdout:
                if line.startswith('{"phase"'):
                    name = json.loads(line)["phase"]
                    if on_phase is not None:
                        on_phase(name)
                    if name == "measure" and running.redis is not None:
                        running.redis.reset_stats()
                    samples[name] = running.cpu_sample()
                elif line.startswith("{"):
                    last = line
            stderr = proc.stderr.read()
            proc.wait()
        finally:
            killer.cancel()
    if proc.returncode != 0 or not last:
        return {
            "error": f"loadgen exited {proc.returncode}: {stderr[-800:]}",
            "cmd": shlex.join(cmd),
        }
    res = json.loads(last)
    if "measure" in samples and "done" in samples:
        count = res.get("messages") or 0
        res["cpu_us"] = cpu_per_message(running, samples["measure"], samples["done"], count)
        if running.redis is not None:
            res["redis_commands"] = running.redis.command_stats(count)
    res["cmd"] = shlex.join(cmd)
    return res


def workload_ws(peer: Peer, args, running: Running) -> dict:
    """WebSocket echo, closed loop, with 1 and 50 clients."""
    url = f"ws://{HOST}:{peer.port}/ws/echo/"
    out = {}
    for clients in (1, 50):
        out[f"clients{clients}"] = run_echo(
            args,
            running,
            [
                "echo",
                "--engine",
                args.ws_engine,
                "--url",
                url,
                "--clients",
                str(clients),
                "--duration",
                str(args.ws_duration),
                "--warmup",
                "1",
            ],
            timeout=args.ws_duration + 90,
        )
        time.sleep(1)
    return out


def workload_broadcast(peer: Peer, args, running: Running) -> dict:
    """Group sends to ``--broadcast-sockets`` sockets: delivery and time."""
    url = f"ws://{HOST}:{peer.port}/ws/broadcast/"
    return run_loadgen(
        args,
        [
            "broadcast",
            "--url",
            url,
            "--sockets",
            str(args.broadcast_sockets),
            "--broadcasts",
            str(args.broadcasts),
            "--timeout",
            "5",
        ],
        timeout=args.broadcasts * 6 + 120,
    )


def workload_memory(peer: Peer, args, running: Running) -> dict:
    """Server RSS per idle WebSocket (``--idle-sockets`` open)."""
    url = f"ws://{HOST}:{peer.port}/ws/echo/"
    pids = running.interface_pids()
    all_pids = running.all_pids()
    time.sleep(1)
    before = {pid: rss_kib(pid) for pid in all_pids}
    cmd = taskset(
        args.client_cpus,
        [
            client_python(),
            str(LOADGEN_WS),
            "idle",
            "--url",
            url,
            "--sockets",
            str(args.idle_sockets),
            "--settle",
            "3",
            "--hold",
            "120",
        ],
    )
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        opened = json.loads(line) if line.startswith("{") else {"open": 0, "error": line}
        after = {pid: rss_kib(pid) for pid in all_pids}
        proc.stdin.write("close\n")
        proc.stdin.flush()
        tail = proc.stdout.read()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    n = opened.get("open", 0) or 0
    iface_delta = sum(after[p] - before[p] for p in pids)
    total_delta = sum(after[p] - before[p] for p in all_pids)
    return {
        "sockets_open": n,
        "still_open_at_end": json.loads(tail.strip().splitlines()[-1]).get("still_open")
        if tail.strip()
        else None,
        "interface_rss_before_kib": sum(before[p] for p in pids),
        "interface_rss_after_kib": sum(after[p] for p in pids),
        "kib_per_socket": round(iface_delta / n, 2) if n else None,
        "all_processes_kib_per_socket": round(total_delta / n, 2) if n else None,
        "cmd": shlex.join(cmd),
    }


#: Workload name -> function(peer, args, running) -> result dict.
WORKLOADS = {
    "http": workload_http,
    "ws": workload_ws,
    "broadcast": workload_broadcast,
    "memory": workload_memory,
}
