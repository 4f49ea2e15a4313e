"""``channels status``, ``channels latency`` and ``channels flush``."""

from __future__ import annotations

import time

import click

from ..backends.registry import DEFAULT_CHANNEL_BACKEND
from ..names import random_suffix
from ..operations import PROBE_CHANNEL, HeartbeatRecord, probe_request
from .loading import backend_for
from .output import emit_json, percentile, table

backend_option = click.option(
    "--backend",
    "alias",
    default=DEFAULT_CHANNEL_BACKEND,
    show_default=True,
    help="CHANNEL_BACKENDS alias.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.command()
@backend_option
@json_option
def status(alias: str, as_json: bool) -> None:
    """Queue depths, live workers and interface servers."""
    backend = backend_for(alias)
    try:
        channels = backend.channel_stats()
        processes = backend.heartbeats()
        servers = backend.server_stats()
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from exc
    now = time.time()
    if as_json:
        emit_json(
            {
                "channels": [vars(c) for c in channels],
                "processes": [
                    dict(p, last_seen=round(now - p.get("beat", now), 3)) for p in processes
                ],
                "servers": [vars(s) for s in servers],
            }
        )
        return
    click.echo("Channels")
    if channels:
        rows = [
            (c.name, c.depth, c.capacity, "-" if c.oldest_age is None else f"{c.oldest_age:.1f}s")
            for c in sorted(channels, key=lambda c: (-c.depth, c.name))
        ]
        click.echo(table(["channel", "waiting", "capacity", "oldest"], rows))
    else:
        click.echo("  no messages waiting")
    click.echo("\nProcesses")
    if processes:
        rows = [
            (
                p.get("kind"),
                p.get("id"),
                p.get("pid"),
                f"{now - p.get('beat', now):.1f}s ago",
                _load(p),
                f"{100 * p['busy']:.0f}%" if "busy" in p else "-",
            )
            for p in sorted(processes, key=lambda p: (str(p.get("kind")), str(p.get("id"))))
        ]
        click.echo(table(["kind", "id", "pid", "heartbeat", "load", "busy (1 min)"], rows))
    else:
        click.echo("  no live workers or interface servers")
    _echo_servers(servers)


def _echo_servers(servers: list) -> None:
    """Per server (Redis shard): where it is, role, reachable, failovers, memory."""
    if not servers:
        return
    click.echo("\nServers")
    rows = [
        (
            s.name,
            s.address or "-",
            s.role or "-",
            "yes" if s.reachable else "NO",
            "-" if s.failovers is None else s.failovers,
            "-" if s.memory is None else f"{s.memory / 2**20:.1f} MiB",
        )
        for s in servers
    ]
    click.echo(table(["server", "address", "role", "reachable", "failovers", "memory"], rows))


def _load(process: HeartbeatRecord) -> str:
    """What a process is carrying: messages handled, or connections held."""
    if "handled" in process:
        return f"{process['handled']} handled"
    if "connections" in process:
        return (
            f"{process['connections']} ws, {process.get('http_in_flight', 0)} http in flight"
        )
    return "-"


@click.command()
@backend_option
@json_option
@click.option("-n", "--count", default=20, show_default=True, help="Probes to send.")
@click.option("--interval", default=0.05, show_default=True, help="Seconds between probes.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait per probe.")
def latency(alias: str, as_json: bool, count: int, interval: float, timeout: float) -> None:
    """End-to-end latency: probes that workers answer (are they keeping up?)."""
    backend = backend_for(alias)
    inbox = f"cli.latency.{random_suffix()}!"
    times, lost, workers = [], 0, set()
    for n in range(count):
        reply = backend.new_channel(inbox)
        sent = time.perf_counter()
        backend.send(PROBE_CHANNEL, probe_request(n, reply))
        deadline = sent + timeout
        while True:
            channel, answer = backend.receive_many(
                [inbox], block=True, timeout=max(0.0, deadline - time.perf_counter())
            )
            if channel is None:
                lost += 1
                break
            if channel == reply:
                times.append((time.perf_counter() - sent) * 1000)
                workers.add(answer.get("worker"))
                break
        time.sleep(interval)
    times.sort()
    result = {
        "probes": count,
        "answered": len(times),
        "lost": lost,
        "workers": len(workers),
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
        "max_ms": times[-1] if times else None,
    }
    if as_json:
        emit_json(result)
    else:

        def ms(value):
            return "-" if value is None else f"{value:.2f}"

        click.echo(
            table(
                ["probes", "answered", "lost", "workers", "p50 ms", "p95 ms", "p99 ms", "max ms"],
                [
                    (
                        count,
                        len(times),
                        lost,
                        len(workers),
                        ms(result["p50_ms"]),
                        ms(result["p95_ms"]),
                        ms(result["p99_ms"]),
                        ms(result["max_ms"]),
                    )
                ],
            )
        )
    if count and not times:
        raise click.ClickException("no probe was answered: is any worker running?")


@click.command()
@backend_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def flush(alias: str, yes: bool) -> None:
    """Delete the queued messages, group memberships and heartbeats of one
    backend, and nothing else; says exactly what before asking."""
    backend = backend_for(alias)
    click.echo(f"channels flush --backend {alias} deletes")
    for line in backend.flush_scope():
        click.echo(f"  {line}")
    if not yes:
        click.confirm("Drop every message and group membership listed above?", abort=True)
    backend.flush()
    click.echo(f"Flushed {backend!r}.")
