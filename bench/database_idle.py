"""What an idle worker on the database backend costs, and how fast it wakes.

For SQLite (always) and PostgreSQL (when ``--postgres URL`` or the
CHANNELS_TEST_POSTGRES environment variable names a server) this measures:

* idle CPU: a separate process loops on ``receive_many(block=True)`` (the
  default 1 s block timeout, as ``runworker`` does) for ``--idle`` seconds
  with nothing to receive; its user+system CPU time is reported.
* wake-up latency: a process blocked in ``receive_many(block=True)`` gets a
  message from this process after a random pause; the time from ``send``
  returning to ``receive_many`` returning in the other process, over
  ``--rounds`` rounds.
* ping-pong: this process sends a message and blocks for the answer, which
  another process (blocked in ``receive_many``) sends back at once: the
  round trip of two hops (a send, a wake-up and a receive each), over
  ``--pings`` rounds. The hop cost of a request and its reply when one
  client talks to one worker.

Run: ``python bench/database_idle.py [--postgres postgresql://postgres@127.0.0.1:5432/test]``
Tables are created in a temporary SQLite file and a temporary PostgreSQL
schema, both removed afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import secrets
import statistics
import tempfile
import time
from urllib.parse import unquote, urlsplit

BACKEND = "channels.backends.database.DatabaseChannelBackend"


def django_settings(sqlite_path: str, postgres_url: str | None, schema: str) -> dict:
    """Minimal settings with a "default" SQLite and an optional "postgres"."""
    databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path}}
    if postgres_url:
        url = urlsplit(postgres_url)
        databases["postgres"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/") or "postgres",
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
            "OPTIONS": {"options": f"-c search_path={schema}"},
        }
    return {
        "INSTALLED_APPS": ["channels"],
        "DATABASES": databases,
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
    }


def setup_django(config: dict) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**config)
        django.setup()


def make_backend(db_alias: str):
    from channels.backends.database import DatabaseChannelBackend

    return DatabaseChannelBackend("default", DB_ALIAS=db_alias)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_child(config: dict, db_alias: str, seconds: float, loop: bool, out) -> None:
    """Wait on an empty channel for ``seconds``: in one blocking receive, or
    (``loop``) in 1 s receives one after another, as a worker does; report
    the CPU time used."""
    setup_django(config)
    backend = make_backend(db_alias)
    backend.receive_many(["bench.idle"], block=True, timeout=0.2)  # connect first
    start_cpu, start = cpu_seconds(), time.monotonic()
    receives = 0
    while time.monotonic() - start < seconds:
        backend.receive_many(["bench.idle"], block=True, timeout=1.0 if loop else seconds)
        receives += 1
    out.put((cpu_seconds() - start_cpu, time.monotonic() - start, receives))
    backend.close()


def ready_receiver(config: dict, db_alias: str, channel: str, out):
    """A backend in this (child) process, listening on ``channel``; says so."""
    setup_django(config)
    backend = make_backend(db_alias)
    backend.receive_many([channel], block=True, timeout=0.2)  # connect, LISTEN
    out.put("ready")
    return backend


def wake_child(config: dict, db_alias: str, rounds: int, out) -> None:
    """Receive ``rounds`` messages, each while blocked; report latencies."""
    backend = ready_receiver(config, db_alias, "bench.wake", out)
    for _ in range(rounds):
        channel, message = backend.receive_many(["bench.wake"], block=True, timeout=30)
        now = time.time()
        out.put(None if channel is None else now - message["sent"])
    backend.close()


def echo_child(config: dict, db_alias: str, rounds: int, out) -> None:
    """Send every message received on bench.ping back to bench.pong."""
    backend = ready_receiver(config, db_alias, "bench.ping", out)
    for _ in range(rounds):
        channel, message = backend.receive_many(["bench.ping"], block=True, timeout=30)
        if channel is None:
            break
        backend.send("bench.pong", message)
    backend.close()


def ping_pong(backend, context, config: dict, db_alias: str, rounds: int, out) -> list[float]:
    """Round trips (ms) of a message bounced off another process."""
    proc = context.Process(target=echo_child, args=(config, db_alias, rounds, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    backend.receive_many(["bench.pong"], block=True, timeout=0.2)  # LISTEN first
    trips = []
    for n in range(rounds):
        start = time.perf_counter()
        backend.send("bench.ping", {"n": n})
        channel, message = backend.receive_many(["bench.pong"], block=True, timeout=30)
        assert channel is not None and message["n"] == n, "the echo never came back"
        trips.append((time.perf_counter() - start) * 1000)
    proc.join()
    return sorted(trips)


def measure(config: dict, db_alias: str, idle: float, rounds: int, pings: int) -> dict:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()

    idle_cpu = {}
    for loop in (False, True):
        proc = context.Process(target=idle_child, args=(config, db_alias, idle, loop, out))
        proc.start()
        idle_cpu[loop] = out.get(timeout=idle + 60)
        proc.join()

    backend = make_backend(db_alias)
    backend.flush()
    proc = context.Process(target=wake_child, args=(config, db_alias, rounds, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    latencies = []
    for _ in range(rounds):
        # A random pause puts the receiver anywhere in its wait (for SQLite,
        # anywhere in its poll backoff).
        time.sleep(random.uniform(0.05, 0.6))
        backend.send("bench.wake", {"sent": time.time()})
        latency = out.get(timeout=60)
        assert latency is not None, "the blocked receiver never got the message"
        latencies.append(latency * 1000)
    proc.join()
    backend.flush()
    trips = ping_pong(backend, context, config, db_alias, pings, out)
    backend.flush()
    backend.close()
    latencies.sort()
    return {
        "idle_one_ms": idle_cpu[False][0] * 1000,
        "idle_loop_ms": idle_cpu[True][0] * 1000,
        "idle_loop_pct": 100 * idle_cpu[True][0] / idle_cpu[True][1],
        "wake_median_ms": statistics.median(latencies),
        "wake_p90_ms": latencies[int(0.9 * (len(latencies) - 1))],
        "wake_max_ms": latencies[-1],
        "ping_median_ms": statistics.median(trips),
        "ping_p90_ms": trips[int(0.9 * (len(trips) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("CHANNELS_TEST_POSTGRES"))
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured")
    parser.add_argument("--rounds", type=int, default=30, help="wake-up rounds")
    parser.add_argument("--pings", type=int, default=300, help="ping-pong rounds")
    args = parser.parse_args()

    fd, sqlite_path = tempfile.mkstemp(prefix="channels-bench-", suffix=".sqlite3")
    os.close(fd)
    schema = f"channels_bench_{secrets.token_hex(4)}"
    config = django_settings(sqlite_path, args.postgres, schema)
    setup_django(config)
    from django.core.management import call_command
    from django.db import connections

    aliases = ["default"] + (["postgres"] if args.postgres else [])
    try:
        if args.postgres:
            with connections["postgres"].cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {schema}")
        for alias in aliases:
            call_command("migrate", "channels", database=alias, verbosity=0)
        print(f"CPU time of a process waiting {args.idle:.0f} s with nothing to receive,")
        print("in one blocking receive and in a loop of 1 s blocking receives (a worker);")
        print(f"wake-up latency from send to receive in another process ({args.rounds} rounds);")
        print(f"round trip of a message bounced off another process ({args.pings} rounds).")
        print()
        print(
            f"{'database':<11}{'idle, one':>11}{'idle, loop':>22}"
            f"{'wake median':>13}{'p90':>9}{'max':>9}{'ping-pong median':>18}{'p90':>9}"
        )
        for alias in aliases:
            r = measure(config, alias, args.idle, args.rounds, args.pings)
            name = "sqlite" if alias == "default" else "postgresql"
            print(
                f"{name:<11}{r['idle_one_ms']:>8.1f} ms"
                f"{r['idle_loop_ms']:>11.1f} ms ({r['idle_loop_pct']:.2f}%)"
                f"{r['wake_median_ms']:>10.1f} ms{r['wake_p90_ms']:>6.1f} ms"
                f"{r['wake_max_ms']:>6.1f} ms"
                f"{r['ping_median_ms']:>15.2f} ms{r['ping_p90_ms']:>6.2f} ms"
            )
    finally:
        if args.postgres:
            with connections["postgres"].cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connections.close_all()
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(sqlite_path + suffix):
                os.unlink(sqlite_path + suffix)


if __name__ == "__main__":
    main()
