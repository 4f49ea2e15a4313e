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
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROJECTS = HERE / "projects"
RESULTS_DIR = REPO / "bench" / "results"
RESULTS_MD = REPO / "bench" / "RESULTS.md"
VENVS = Path(os.environ.get("BENCH_PEERS_ROOT", "/tmp/bench-peers"))
LOGS = VENVS / "logs"
LOADGEN_WS = HERE / "loadgen_ws.py"
HOST = "127.0.0.1"

ALL_PEERS = [
    "ours",
    "ours-baseline",
    "ours-sqlite",
    "ours-postgres",
    "channels4",
    "channels1",
    "channels1sync",
    "uvicorn",
]
ALL_WORKLOADS = ["http", "ws", "broadcast", "memory"]
HTTP_ONLY = {"uvicorn"}


@dataclass
class Peer:
    name: str
    title: str
    python: Path
    cwd: Path
    # (label, argv, is_interface): the interface process(es) are the ones
    # whose RSS the memory workload reads.
    procs: list[tuple[str, list[str], bool]]
    redis_db: int | None
    packages: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    # commands run (in cwd, with env) before each start: fresh tables
    setup: list[list[str]] = field(default_factory=list)


def build_peers(args) -> dict[str, Peer]:
    ours_py = Path(args.ours_python)
    redis_url = f"redis://{HOST}:{args.redis_port}"
    port = args.base_port

    def venv(name: str) -> Path:
        return VENVS / name / "bin" / "python"

    def bin_(name: str, tool: str) -> str:
        return str(VENVS / name / "bin" / tool)

    def channels1_peer(name: str, title: str, peer_port: int, db: int, flags: list) -> Peer:
        # The two Channels 1.x peers differ only in Daphne's reader.
        daphne = [
            bin_("channels1", "daphne"), "-b", HOST, "-p", str(peer_port),
            "--ping-interval", "3600", "-v", "0", *flags, "c1proj.asgi:channel_layer",
        ]  # fmt: skip
        workers = [
            (f"runworker{i}", [str(venv("channels1")), "manage.py", "runworker"], False)
            for i in range(args.workers)
        ]
        return Peer(
            name=name,
            title=title,
            python=venv("channels1"),
            cwd=PROJECTS / "channels1",
            procs=[("daphne", daphne, True), *workers],
            redis_db=db,
            packages=[
                "channels",
                "daphne",
                "asgi_redis",
                "asgiref",
                "Django",
                "Twisted",
                "autobahn",
                "redis",
                "txredisapi",
                "msgpack-python",
            ],  # fmt: skip
            port=peer_port,
            env={
                "BENCH_REDIS_URL": f"{redis_url}/{db}",
                "DJANGO_SETTINGS_MODULE": "c1proj.settings",
            },
        )

    peers = {
        "ours": Peer(
            name="ours",
            title="ours (runwsserver + runworker, Redis)",
            python=ours_py,
            cwd=PROJECTS / "ours",
            procs=[
                (
                    "runwsserver",
                    [
                        str(ours_py),
                        "manage.py",
                        "runwsserver",
                        "--accept-all",
                        "--no-compression",
                        "--ping-interval",
                        "0",
                        f"{HOST}:{port}",
                    ],
                    True,
                ),
                *[
                    (f"runworker{i}", [str(ours_py), "manage.py", "runworker"], False)
                    for i in range(args.workers)
                ],
            ],
            redis_db=13,
            packages=["channels", "Django", "Twisted", "autobahn", "redis", "msgpack"],
            port=port,
            env={"BENCH_REDIS_URL": f"{redis_url}/13"},
        ),
        "channels4": Peer(
            name="channels4",
            title="Channels 4 + Daphne + channels_redis",
            python=venv("channels4"),
            cwd=PROJECTS / "channels4",
            procs=[
                (
                    "daphne",
                    [
                        bin_("channels4", "daphne"),
                        "-b",
                        HOST,
                        "-p",
                        str(port + 1),
                        "--ping-interval",
                        "3600",
                        "-v",
                        "0",
                        "c4proj.asgi:application",
                    ],
                    True,
                )
            ],
            redis_db=11,
            packages=[
                "channels",
                "daphne",
                "channels_redis",
                "Django",
                "Twisted",
                "autobahn",
                "redis",
                "msgpack",
            ],
            port=port + 1,
            env={"BENCH_REDIS_URL": f"{redis_url}/11", "DJANGO_SETTINGS_MODULE": "c4proj.settings"},
        ),
        "channels1": channels1_peer(
            "channels1",
            "Channels 1.x + Daphne 1.x + asgi_redis (txredisapi reader)",
            port + 2,
            12,
            [],
        ),
        "channels1sync": channels1_peer(
            "channels1sync",
            "Channels 1.x, daphne --force-sync (polling reader, as without txredisapi)",
            port + 4,
            14,
            ["--force-sync"],
        ),
        "uvicorn": Peer(
            name="uvicorn",
            title="uvicorn + plain Django (HTTP ceiling)",
            python=venv("uvicorn"),
            cwd=PROJECTS / "uvicorn",
            procs=[
                (
                    "uvicorn",
                    [
                        bin_("uvicorn", "uvicorn"),
                        "--host",
                        HOST,
                        "--port",
                        str(port + 3),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                        "uvproj.asgi:application",
                    ],
                    True,
                )
            ],
            redis_db=None,
            packages=["uvicorn", "uvloop", "httptools", "Django"],
            port=port + 3,
            env={"DJANGO_SETTINGS_MODULE": "uvproj.settings"},
        ),
    }
    peers["ours-baseline"] = baseline_peer(peers["ours"], port + 7, args)
    peers["ours-sqlite"] = database_peer(peers["ours"], "sqlite", port + 5, args)
    peers["ours-postgres"] = database_peer(peers["ours"], "postgres", port + 6, args)
    return peers


def baseline_peer(ours: Peer, peer_port: int, args) -> Peer:
    """``ours`` run by ``--baseline-python`` (an interpreter seeing an older
    checkout), so a change is measured against what it replaced in one sitting."""
    py = args.baseline_python or str(ours.python)
    procs = []
    for label, argv, iface in ours.procs:
        argv = [py, *argv[1:]]
        if iface:
            argv[-1] = f"{HOST}:{peer_port}"
        procs.append((label, argv, iface))
    return Peer(
        name="ours-baseline",
        title="ours, baseline checkout (--baseline-python)",
        python=Path(py),
        cwd=ours.cwd,
        procs=procs,
        redis_db=15,
        packages=ours.packages,
        port=peer_port,
        env={**ours.env, "BENCH_REDIS_URL": ours.env["BENCH_REDIS_URL"].rsplit("/", 1)[0] + "/15"},
    )


def database_peer(ours: Peer, vendor: str, peer_port: int, args) -> Peer:
    """``ours`` on the database backend (one worker): SQLite file or a
    PostgreSQL schema of its own, made afresh before every start."""
    py = str(ours.python)
    procs = []
    for label, argv, iface in ours.procs:
        argv = list(argv)
        if iface:
            argv[-1] = f"{HOST}:{peer_port}"
        procs.append((label, argv, iface))
    migrate = [py, "manage.py", "migrate", "channels", "-v", "0"]
    if vendor == "sqlite":
        path = VENVS / "ours-bench.sqlite3"
        env = {"BENCH_BACKEND": "sqlite", "BENCH_SQLITE_PATH": str(path)}
        fresh = [py, "-c", f"import pathlib; [pathlib.Path('{path}' + s).unlink(missing_ok=True) "
                 "for s in ('', '-wal', '-shm', '-journal')]"]  # fmt: skip
        packages = ["channels", "Django", "Twisted", "autobahn", "msgpack"]
    else:
        parts = urllib.parse.urlsplit(args.postgres)
        schema = "bench_peers_ours"
        env = {
            "BENCH_BACKEND": "postgres",
            "BENCH_PG_NAME": parts.path.strip("/") or "test",
            "BENCH_PG_USER": parts.username or "postgres",
            "BENCH_PG_HOST": parts.hostname or HOST,
            "BENCH_PG_PORT": str(parts.port or 5432),
            "BENCH_PG_SCHEMA": schema,
        }
        # Our own schema only: dropped and made again, never anything else.
        fresh = [py, "-c", "import psycopg, sys; "
                 "c = psycopg.connect(sys.argv[1], autocommit=True); "
                 f"c.execute('DROP SCHEMA IF EXISTS {schema} CASCADE'); "
                 f"c.execute('CREATE SCHEMA {schema}')", args.postgres]  # fmt: skip
        packages = ["channels", "Django", "Twisted", "autobahn", "msgpack", "psycopg"]
    return Peer(
        name=f"ours-{vendor}",
        title=f"ours on the database backend ({'SQLite' if vendor == 'sqlite' else 'PostgreSQL'})",
        python=ours.python,
        cwd=ours.cwd,
        procs=procs,
        redis_db=None,
        packages=packages,
        port=peer_port,
        env=env,
        setup=[fresh, migrate],
    )


# --------------------------------------------------------------------------
# processes


def taskset(cpus: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus else argv


def versions(peer: Peer) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for p in {peer.packages!r}:\n"
        "    try:\n        out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError:\n        pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        out = subprocess.run(
            # not from the repository root, whose channels.egg-info would answer
            # for every venv's "channels"
            [str(peer.python), "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd="/",
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        ).stdout
        return json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": str(exc)[:200]}


class Redis:
    """A private redis-server (no persistence) pinned to the server CPUs."""

    def __init__(self, port: int, cpus: str, start: bool):
        self.port, self.cpus, self.start_it = port, cpus, start
        self.proc: subprocess.Popen | None = None

    def cli(self, *argv: str, db: int | None = None) -> str:
        cmd = ["redis-cli", "-h", HOST, "-p", str(self.port)]
        if db is not None:
            cmd += ["-n", str(db)]
        return subprocess.run(
            [*cmd, *argv], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    def __enter__(self):
        if self.start_it:
            LOGS.mkdir(parents=True, exist_ok=True)
            log = open(LOGS / "redis.log", "w")  # noqa: SIM115 - closed with the process
            self.proc = subprocess.Popen(
                taskset(
                    self.cpus,
                    [
                        "redis-server",
                        "--bind",
                        HOST,
                        "--port",
                        str(self.port),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--databases",
                        "16",
                        "--maxclients",
                        "10000",
                    ],
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while self.cli("ping") != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on port {self.port} did not answer")
            time.sleep(0.1)
        return self

    def version(self) -> str:
        info = self.cli("info", "server")
        m = re.search(r"redis_version:(\S+)", info)
        return m.group(1) if m else "?"

    @property
    def pid(self) -> int | None:
        """The server's process id (from INFO, so an external Redis too)."""
        if getattr(self, "_pid", None) is None:
            m = re.search(r"process_id:(\d+)", self.cli("info", "server"))
            self._pid = int(m.group(1)) if m else None
        return self._pid

    def reset_stats(self) -> None:
        self.cli("config", "resetstat")

    def command_stats(self, count: int) -> dict:
        """Calls and Redis CPU per command since reset_stats, per message."""
        out = {}
        for line in self.cli("info", "commandstats").splitlines():
            m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+)", line)
            if m and count:
                name, calls, usec = m.group(1), int(m.group(2)), int(m.group(3))
                out[name] = {
                    "calls_per_msg": round(calls / count, 3),
                    "usec_per_call": round(usec / calls, 2) if calls else None,
                    "usec_per_msg": round(usec / count, 2),
                }
        return out

    def __exit__(self, *exc):
        if self.proc is not None:
            stop_process(self.proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Running:
    """A peer's processes, started pinned, stopped on exit."""

    def __init__(self, peer: Peer, cpus: str, redis: Redis | None, capacity: int | None = None):
        self.peer, self.cpus, self.redis, self.capacity = peer, cpus, redis, capacity
        self.procs: list[tuple[str, subprocess.Popen, bool]] = []

    def __enter__(self):
        peer = self.peer
        if peer.redis_db is not None and self.redis is not None:
            self.redis.cli("flushdb", db=peer.redis_db)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(peer.cwd), **peer.env}
        env.pop("BENCH_CAPACITY", None)
        if self.capacity:
            env["BENCH_CAPACITY"] = str(self.capacity)
        env.pop("VIRTUAL_ENV", None)
        LOGS.mkdir(parents=True, exist_ok=True)
        for argv in peer.setup:
            done = subprocess.run(
                argv, cwd=peer.cwd, env=env, capture_output=True, text=True, timeout=120
            )
            if done.returncode != 0:
                raise RuntimeError(f"{peer.name}: setup {argv[:3]} failed: {done.stderr[-500:]}")
        # workers first, so the interface finds someone to talk to
        for label, argv, is_iface in sorted(peer.procs, key=lambda p: p[2]):
            log = open(LOGS / f"{peer.name}-{label}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                taskset(self.cpus, argv),
                cwd=peer.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.procs.append((label, proc, is_iface))
        try:
            self.wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.peer.port}/hello/"
        last = ""
        while time.monotonic() < deadline:
            for label, proc, _ in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.peer.name}: {label} exited with {proc.returncode}; see "
                        f"{LOGS / (self.peer.name + '-' + label + '.log')}"
                    )
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200 and b"Hello" in resp.read():
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"{self.peer.name}: not ready after {timeout}s ({last})")

    def interface_pids(self) -> list[int]:
        return [proc.pid for _, proc, iface in self.procs if iface]

    def cpu_sample(self) -> dict[str, float]:
        """CPU seconds so far of each server process, and of Redis, by label."""
        out = {label: cpu_seconds(proc.pid) for label, proc, _ in self.procs}
        if self.redis is not None and self.redis.pid:
            out["redis"] = cpu_seconds(self.redis.pid)
        return out

    def roles(self) -> dict[str, str]:
        """label -> interface, worker or redis (the per-process CPU rows)."""
        out = {label: "interface" if iface else "worker" for label, _, iface in self.procs}
        out["redis"] = "redis"
        return out

    def all_pids(self) -> list[int]:
        return [proc.pid for _, proc, _ in self.procs]

    def check_alive(self) -> list[str]:
        return [
            f"{label} exited {proc.returncode}"
            for label, proc, _ in self.procs
            if proc.poll() is not None
        ]

    def __exit__(self, *exc):
        # interface first (it drains its connections), then the workers
        for _, proc, _ in sorted(self.procs, key=lambda p: not p[2]):
            stop_process(proc)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its threads so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # the fields after the command name, which may hold spaces
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_per_message(
    running: Running, before: dict[str, float], after: dict[str, float], count: int
) -> dict:
    """CPU microseconds per message: per process, per role and all together."""
    if not count:
        return {}
    per_label = {k: (after[k] - before.get(k, after[k])) * 1e6 / count for k in after}
    roles = running.roles()
    out: dict = {"processes": {k: round(v, 1) for k, v in per_label.items()}}
    for role in ("interface", "worker", "redis"):
        out[role] = round(sum(v for k, v in per_label.items() if roles.get(k) == role), 1)
    out["total"] = round(sum(per_label.values()), 1)
    out["seconds"] = {k: round(after[k] - before.get(k, after[k]), 3) for k in after}
    return out


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` (the exec'd child of taskset) in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------
# workloads

WRK_LAT = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict:
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
    return str(VENVS / "client" / "bin" / "python")


def run_loadgen(args, argv: list[str], timeout: float) -> dict:
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


# --------------------------------------------------------------------------
# aggregation and report


def med(values):
    vals = [v for v in values if isinstance(v, int | float)]
    return statistics.median(vals) if vals else None


CPU_ROLES = ("total", "interface", "worker", "redis")


def summarize(runs: list[dict]) -> dict:
    """Medians over runs of the figures that go into the table."""

    def col(*path):
        vals = []
        for r in runs:
            cur = r
            for key in path:
                cur = cur.get(key) if isinstance(cur, dict) else None
            vals.append(cur)
        return med(vals)

    s: dict = {}
    for c in (1, 10, 100):
        for k in ("rps", "p50_ms", "p99_ms"):
            s[f"http_c{c}_{k}"] = col("http", f"c{c}", k)
        s[f"http_c{c}_errors"] = col("http", f"c{c}", "socket_errors")
        for role in CPU_ROLES:
            s[f"http_c{c}_cpu_{role}"] = col("http", f"c{c}", "cpu_us", role)
        s[f"http_c{c}_non2xx"] = col("http", f"c{c}", "non_2xx")
    for n in (1, 50):
        for k in ("msgs_per_s", "p50_ms", "p99_ms", "failures"):
            s[f"ws{n}_{k}"] = col("ws", f"clients{n}", k)
        for role in CPU_ROLES:
            s[f"ws{n}_cpu_{role}"] = col("ws", f"clients{n}", "cpu_us", role)
        s[f"ws{n}_loadgen_cpu"] = col("ws", f"clients{n}", "loadgen_cpu")
    s["bc_fraction"] = col("broadcast", "fraction_delivered_median")
    s["bc_all_p50_ms"] = col("broadcast", "time_to_all_p50_ms")
    s["bc_first_p50_ms"] = med(
        [med([x.get("first_ms") for x in r.get("broadcast", {}).get("rounds", [])]) for r in runs]
    )
    s["mem_kib"] = col("memory", "kib_per_socket")
    s["mem_all_kib"] = col("memory", "all_processes_kib_per_socket")
    s["runs"] = len(runs)
    return s


def fmt(v, digits=0, unit=""):
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b, higher_better=True):
    if a is None or b is None or b == 0 or a == 0:
        return "—"
    r = a / b
    return f"{r:.2f}×"


ROWS = [
    # (label, key, digits, unit, higher_is_better)
    ("HTTP hello c=1: req/s", "http_c1_rps", 0, "", True),
    ("HTTP hello c=1: p50", "http_c1_p50_ms", 2, " ms", False),
    ("HTTP hello c=1: p99", "http_c1_p99_ms", 2, " ms", False),
    ("HTTP hello c=10: req/s", "http_c10_rps", 0, "", True),
    ("HTTP hello c=10: p50", "http_c10_p50_ms", 2, " ms", False),
    ("HTTP hello c=10: p99", "http_c10_p99_ms", 2, " ms", False),
    ("HTTP hello c=10: CPU/req, all server processes", "http_c10_cpu_total", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, interface", "http_c10_cpu_interface", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, worker(s)", "http_c10_cpu_worker", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, Redis", "http_c10_cpu_redis", 0, " µs", False),
    ("HTTP hello c=100: req/s", "http_c100_rps", 0, "", True),
    ("HTTP hello c=100: p50", "http_c100_p50_ms", 2, " ms", False),
    ("HTTP hello c=100: p99", "http_c100_p99_ms", 2, " ms", False),
    ("WS echo 1 client: msgs/s", "ws1_msgs_per_s", 0, "", True),
    ("WS echo 1 client: p50", "ws1_p50_ms", 2, " ms", False),
    ("WS echo 1 client: p99", "ws1_p99_ms", 2, " ms", False),
    ("WS echo 1 client: CPU/msg, all server processes", "ws1_cpu_total", 0, " µs", False),
    ("WS echo 50 clients: msgs/s", "ws50_msgs_per_s", 0, "", True),
    ("WS echo 50 clients: p50", "ws50_p50_ms", 2, " ms", False),
    ("WS echo 50 clients: p99", "ws50_p99_ms", 2, " ms", False),
    ("WS echo 50 clients: CPU/msg, all server processes", "ws50_cpu_total", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, interface", "ws50_cpu_interface", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, worker(s)", "ws50_cpu_worker", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, Redis", "ws50_cpu_redis", 0, " µs", False),
    ("WS echo 50 clients: load generator's own CPU", "ws50_loadgen_cpu", 2, "", False),
    ("broadcast to 500: fraction delivered", "bc_fraction", 3, "", True),
    ("broadcast to 500: time to all, p50", "bc_all_p50_ms", 1, " ms", False),
    ("broadcast to 500: time to first, p50", "bc_first_p50_ms", 1, " ms", False),
    ("idle WebSocket: interface RSS / socket", "mem_kib", 1, " KiB", False),
    ("idle WebSocket: all server processes / socket", "mem_all_kib", 1, " KiB", False),
]


# Absolute targets for ours from issue 11 (key -> (bound, "min" or "max"));
# its HTTP targets are ratios to the peers, read from the ratio columns.
TARGETS = {
    "ws50_cpu_total": (250, "max"),
    "ws50_p99_ms": (25.0, "max"),
    "bc_fraction": (1.0, "min"),
    "bc_all_p50_ms": (50.0, "max"),
    "mem_kib": (12.0, "max"),
}
NOTES = HERE / "results_notes.md"


def target_cell(key: str, value) -> str:
    if key not in TARGETS:
        return ""
    bound, kind = TARGETS[key]
    sign = "≥" if kind == "min" else "≤"
    if value is None:
        return f"{sign} {bound:g}"
    ok = value >= bound if kind == "min" else value <= bound
    return f"{sign} {bound:g} {'(met)' if ok else '(missed)'}"


def render_markdown(doc: dict) -> str:
    peers = doc["peers"]
    names = [p for p in ALL_PEERS if p in peers]
    summaries = {n: peers[n].get("summary", {}) for n in names}
    # ratios against the other projects, not against ours on other backends
    others = [n for n in names if not n.startswith("ours")]
    lines = [
        "# Benchmarks against peers",
        "",
        f"Measured {doc['date']} on `{doc['machine']['node']}` "
        f"({doc['machine']['cpus']} cores, {doc['machine']['cpu_model']}, "
        f"{doc['machine']['platform']}), Redis {doc['redis_version']}"
        + (f", ours at `{doc['ours_commit']}`." if doc.get("ours_commit") else "."),
        f"Medians of {doc['runs']} runs; server processes and Redis pinned to CPU "
        f"`{doc['server_cpus']}`, load generators (wrk, the sans-I/O `websockets` client) to "
        f"CPU `{doc['client_cpus']}`; loopback only. "
        f"Workers per split-architecture peer: {doc['workers']}; channel capacity: "
        f"{doc.get('capacity', '?')}.",
        "Lower is better for latencies and memory, higher for rates and fractions. "
        "A ratio is ours / peer.",
        "",
    ]
    has_ours = "ours" in names
    header = "| workload | " + " | ".join(peers[n]["title"] for n in names)
    header += "".join(f" | ours / {n}" for n in others if has_ours)
    header += " | target for ours (issue 11) |" if has_ours else " |"
    ncols = 1 + len(names) + (len(others) + 1 if has_ours else 0)
    lines += [header, "|" + "---|" * ncols]
    for label, key, digits, unit, hib in ROWS:
        cells = [fmt(summaries[n].get(key), digits, unit) for n in names]
        if all(c == "—" for c in cells):
            continue
        row = f"| {label} | " + " | ".join(cells)
        if "ours" in names:
            row += "".join(
                f" | {ratio(summaries['ours'].get(key), summaries[n].get(key), hib)}"
                for n in others
            )
            row += f" | {target_cell(key, summaries['ours'].get(key))}"
        lines.append(row + " |")
    loads = []
    for n in names:
        vals = [r.get("loadavg_before", [None])[0] for r in peers[n].get("runs", [])]
        vals = [f"{v:.1f}" for v in vals if v is not None]
        if vals:
            loads.append(f"{n} {'/'.join(vals)}")
    if loads:
        lines += [
            "",
            "Machine load (1-minute load average when each run of a peer started; other "
            "sessions share this machine): " + "; ".join(loads) + ".",
        ]
    lines += ["", "## Errors seen (medians per run)", ""]
    any_err = False
    for n in names:
        s = summaries[n]
        bits = []
        for c in (1, 10, 100):
            if s.get(f"http_c{c}_errors"):
                bits.append(f"HTTP c={c}: {s[f'http_c{c}_errors']:.0f} socket errors")
            if s.get(f"http_c{c}_non2xx"):
                bits.append(f"HTTP c={c}: {s[f'http_c{c}_non2xx']:.0f} non-2xx")
        for k in (1, 50):
            if s.get(f"ws{k}_failures"):
                bits.append(f"WS {k} clients: {s[f'ws{k}_failures']:.0f} failed clients")
        if peers[n].get("errors"):
            bits += peers[n]["errors"]
        if bits:
            any_err = True
            lines.append(f"- **{n}**: " + "; ".join(bits))
    if not any_err:
        lines.append("- none")
    lines += ["", "## Versions", ""]
    for n in names:
        v = peers[n].get("versions", {})
        lines.append(f"- **{n}**: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    for n, why in doc.get("not_measured", {}).items():
        lines.append(f"- **{n}**: not measured — {why}")
    lines += [
        "",
        "## How this was measured",
        "",
        "```",
        "bash bench/peers/setup_peers.sh",
        doc["command"],
        "```",
        "",
        "Raw results: `" + doc["raw_file"] + "` (each run, each workload, the exact "
        "wrk / load generator commands).",
        "",
    ]
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# main


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
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def default_ours_python() -> Path:
    local = REPO / ".venv" / "bin" / "python"
    return local if local.exists() else Path("/work/venv/bin/python")


def parse_args(argv):
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
                                result[wl] = workload_memory(peer, args, running)
                            else:
                                result[wl] = globals()[f"workload_{wl}"](peer, args, running)
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


def short(wl: str, res: dict) -> dict:
    """A one-line digest of a workload result for the progress log."""
    if not isinstance(res, dict):
        return {}
    if wl == "http":
        return {k: [v.get("rps"), v.get("p50_ms"), v.get("p99_ms")] for k, v in res.items()}
    if wl == "ws":
        return {
            k: [
                v.get("msgs_per_s"),
                v.get("p50_ms"),
                v.get("p99_ms"),
                v.get("failures"),
                v.get("error", "")[:80],
            ]
            for k, v in res.items()
        }
    if wl == "broadcast":
        return {
            k: res.get(k)
            for k in ("open", "fraction_delivered_median", "time_to_all_p50_ms", "error")
        }
    if wl == "memory":
        return {
            k: res.get(k)
            for k in ("sockets_open", "kib_per_socket", "all_processes_kib_per_socket")
        }
    return {}


if __name__ == "__main__":
    sys.exit(main())
