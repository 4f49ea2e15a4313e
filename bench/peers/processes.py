"""Processes of a benchmark run: the private Redis, a peer's server
processes started pinned to CPUs and stopped as a group, and the CPU time
and memory read from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from peers import HOST, LOGS, Peer


def taskset(cpus: str, argv: list[str]) -> list[str]:
    """``argv`` pinned to ``cpus`` (unchanged when ``cpus`` is empty)."""
    return ["taskset", "-c", cpus, *argv] if cpus else argv


class Redis:
    """A private redis-server (no persistence) pinned to the server CPUs."""

    def __init__(self, port: int, cpus: str, start: bool):
        self.port, self.cpus, self.start_it = port, cpus, start
        self.proc: subprocess.Popen | None = None

    def cli(self, *argv: str, db: int | None = None) -> str:
        """``redis-cli`` on this server (database ``db``); its output."""
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
        """The server's Redis version."""
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
        """Zero the command statistics (before a measured window)."""
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
        """Wait until ``/hello/`` answers; fail if a process exits first."""
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
        """Process ids of the interface server(s)."""
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
        """Process ids of every server process started."""
        return [proc.pid for _, proc, _ in self.procs]

    def check_alive(self) -> list[str]:
        """What exited of the processes started (empty: all alive)."""
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
