"""``channels bench``: a load generator against a running deployment.

Every run is bounded by a request count and a duration, whichever ends
first. Latencies are measured per request (HTTP) or per echo round trip
(WebSocket; the consumer must send each text frame back).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import click

from .output import emit_json, percentile, table


@dataclass
class LoadResult:
    """What one load run measured."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def error(self, kind: str) -> None:
        """Count one failure of ``kind``."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self) -> dict:
        """Totals, throughput and latency percentiles."""
        done = sorted(self.latencies_ms)
        return {
            "completed": len(done),
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "seconds": round(self.elapsed, 3),
            "per_second": round(len(done) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": percentile(done, 0.50),
            "p95_ms": percentile(done, 0.95),
            "p99_ms": percentile(done, 0.99),
        }


async def _run(count: int, concurrency: int, duration: float, one_client, bar) -> LoadResult:
    result = LoadResult()
    remaining = count
    deadline = time.monotonic() + duration

    def take() -> bool:
        nonlocal remaining
        if remaining <= 0 or time.monotonic() > deadline:
            return False
        remaining -= 1
        return True

    started = time.perf_counter()
    await asyncio.gather(*(one_client(take, result, bar) for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


def http_load(url: str, count: int, concurrency: int, duration: float, bar) -> LoadResult:
    """``count`` GET requests over ``concurrency`` keep-alive connections."""
    import httpx

    async def one_client(take, result: LoadResult, bar) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while take():
                sent = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                except httpx.HTTPError as exc:
                    result.error(type(exc).__name__)
                else:
                    if response.status_code >= 400:
                        result.error(f"HTTP {response.status_code}")
                    else:
                        result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                bar.update(1)

    return asyncio.run(_run(count, concurrency, duration, one_client, bar))


def ws_load(url: str, count: int, concurrency: int, duration: float, text: str, bar) -> LoadResult:
    """``count`` echo round trips over ``concurrency`` WebSocket connections."""
    import websockets

    async def one_client(take, result: LoadResult, bar) -> None:
        try:
            socket = await websockets.connect(url, open_timeout=30, max_size=None)
        except (OSError, websockets.WebSocketException) as exc:
            result.error(f"connect: {type(exc).__name__}")
            return
        async with socket:
            while take():
                sent = time.perf_counter()
                try:
                    await socket.send(text)
                    await asyncio.wait_for(socket.recv(), timeout=30)
                except (TimeoutError, websockets.WebSocketException) as exc:
                    result.error(type(exc).__name__)
                    bar.update(1)
                    return
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                bar.update(1)

    return asyncio.run(_run(count, concurrency, duration, one_client, bar))


def _report(summary: dict, as_json: bool) -> None:
    if as_json:
        emit_json(summary)
        return

    def ms(value):
        return "-" if value is None else f"{value:.2f}"

    click.echo(
        table(
            ["completed", "errors", "seconds", "per second", "p50 ms", "p95 ms", "p99 ms"],
            [
                (
                    summary["completed"],
                    summary["errors"],
                    summary["seconds"],
                    summary["per_second"],
                    ms(summary["p50_ms"]),
                    ms(summary["p95_ms"]),
                    ms(summary["p99_ms"]),
                )
            ],
        )
    )
    for kind, n in sorted(summary["error_kinds"].items()):
        click.echo(f"  {n} x {kind}")


def _options(command):
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)
    command = click.option(
        "-d",
        "--duration",
        default=60.0,
        show_default=True,
        help="Stop after this many seconds at most.",
    )(command)
    command = click.option(
        "-c", "--concurrency", default=10, show_default=True, help="Connections in parallel."
    )(command)
    command = click.option(
        "-n", "--count", default=1000, show_default=True, help="Requests / round trips in all."
    )(command)
    return click.argument("url")(command)


@click.group()
def bench() -> None:
    """Load a running deployment with HTTP requests or WebSocket echoes."""


@bench.command("http")
@_options
def bench_http(url: str, count: int, concurrency: int, duration: float, as_json: bool) -> None:
    """GET URL COUNT times over CONCURRENCY connections."""
    with click.progressbar(length=count, label="HTTP", file=click.get_text_stream("stderr")) as bar:
        result = http_load(url, count, concurrency, duration, bar)
    _report(result.summary(), as_json)


@bench.command("ws")
@_options
@click.option("--text", default="ping", show_default=True, help="Text frame to send.")
def bench_ws(
    url: str, count: int, concurrency: int, duration: float, as_json: bool, text: str
) -> None:
    """Echo TEXT COUNT times over CONCURRENCY WebSockets to URL."""
    with click.progressbar(
        length=count, label="WebSocket", file=click.get_text_stream("stderr")
    ) as bar:
        result = ws_load(url, count, concurrency, duration, text, bar)
    _report(result.summary(), as_json)
