"""WebSocket load generator for the peer benchmarks (asyncio + ``websockets``).

Run it in the client venv (``/tmp/bench-peers/client``), pinned to the load
generator's core. Every mode is bounded both in message count and in time,
and prints one JSON object on stdout.

    python loadgen_ws.py echo --url ws://127.0.0.1:8000/ws/echo/ --clients 1
    python loadgen_ws.py broadcast --url ws://127.0.0.1:8000/ws/broadcast/ --sockets 500
    python loadgen_ws.py idle --url ws://127.0.0.1:8000/ws/echo/ --sockets 1000

``idle`` opens the sockets, prints ``{"open": n, ...}``, then keeps them open
until a line arrives on stdin (or ``--hold`` seconds pass), and closes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

CONNECT_KW = {
    "compression": None,  # measure the server, not zlib
    "ping_interval": None,  # no client pings: idle sockets stay idle
    "open_timeout": 20,
    "close_timeout": 2,
    "max_size": 2**20,
}


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


async def open_many(url: str, count: int, parallel: int = 50) -> tuple[list, list[str]]:
    """Open ``count`` sockets, at most ``parallel`` handshakes at a time."""
    sem = asyncio.Semaphore(parallel)
    errors: list[str] = []

    async def one():
        async with sem:
            try:
                return await connect(url, **CONNECT_KW)
            except (TimeoutError, OSError, WebSocketException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return None

    socks = await asyncio.gather(*(one() for _ in range(count)))
    return [s for s in socks if s is not None], errors


async def close_all(socks: list) -> None:
    async def one(ws):
        try:
            await asyncio.wait_for(ws.close(), 3)
        except Exception:  # noqa: BLE001 - best effort at the end of a run
            pass

    await asyncio.gather(*(one(ws) for ws in socks))


async def mode_echo(args) -> dict:
    """Closed loop: each client sends a message and waits for its echo."""
    socks, errors = await open_many(args.url, args.clients)
    if not socks:
        return {"error": "no connection", "connect_errors": errors[:5]}
    payload = "x" * args.size
    rtts: list[float] = []
    failures: list[str] = []
    warm_until = time.perf_counter() + args.warmup

    async def client(ws, deadline: float):
        sent = 0
        while sent < args.max_messages and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await ws.send(payload)
                reply = await asyncio.wait_for(ws.recv(), args.timeout)
            except (TimeoutError, OSError, WebSocketException) as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            t1 = time.perf_counter()
            if reply != payload:
                failures.append("wrong echo")
                return
            if t0 >= warm_until:
                rtts.append(t1 - t0)
                sent += 1

    start = time.perf_counter()
    deadline = warm_until + args.duration
    await asyncio.gather(*(client(ws, deadline) for ws in socks))
    elapsed = time.perf_counter() - max(start, warm_until)
    await close_all(socks)
    return {
        "clients": len(socks),
        "messages": len(rtts),
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(len(rtts) / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": ms(pct(rtts, 50)),
        "p99_ms": ms(pct(rtts, 99)),
        "mean_ms": ms(statistics.fmean(rtts)) if rtts else None,
        "failures": len(failures),
        "failure_samples": failures[:5],
        "connect_errors": len(errors),
    }


async def mode_broadcast(args) -> dict:
    """Open ``sockets`` members; one of them sends, time until each has it."""
    socks, errors = await open_many(args.url, args.sockets)
    if not socks:
        return {"error": "no connection", "connect_errors": errors[:5]}
    await asyncio.sleep(args.settle)
    rounds = []
    for k in range(args.broadcasts):
        token = f"b{k}-{time.time_ns()}"
        arrivals: list[float] = []

        async def listen(ws, token=token, arrivals=arrivals, end=None):
            while True:
                left = end - time.perf_counter()
                if left <= 0:
                    return
                try:
                    msg = await asyncio.wait_for(ws.recv(), left)
                except (TimeoutError, OSError, WebSocketException):
                    return
                if msg == token:
                    arrivals.append(time.perf_counter())
                    return

        t0 = time.perf_counter()
        end = t0 + args.timeout
        listeners = [asyncio.ensure_future(listen(ws, end=end)) for ws in socks]
        try:
            await socks[0].send(token)
        except (OSError, WebSocketException) as exc:
            for task in listeners:
                task.cancel()
            rounds.append({"error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        await asyncio.gather(*listeners)
        delays = sorted(t - t0 for t in arrivals)
        rounds.append(
            {
                "delivered": len(delays),
                "fraction": round(len(delays) / args.sockets, 4),
                "first_ms": ms(delays[0]) if delays else None,
                "p50_ms": ms(pct(delays, 50)),
                "all_ms": ms(delays[-1]) if len(delays) == args.sockets else None,
                "last_ms": ms(delays[-1]) if delays else None,
            }
        )
        await asyncio.sleep(args.pause)
    await close_all(socks)
    fractions = [r.get("fraction", 0.0) for r in rounds]
    alls = [r["all_ms"] for r in rounds if r.get("all_ms") is not None]
    return {
        "sockets": args.sockets,
        "open": len(socks),
        "connect_errors": len(errors),
        "connect_error_samples": errors[:3],
        "broadcasts": len(rounds),
        "fraction_delivered_median": statistics.median(fractions) if fractions else 0.0,
        "fraction_delivered_min": min(fractions) if fractions else 0.0,
        "time_to_all_p50_ms": statistics.median(alls) if alls else None,
        "rounds_all_delivered": len(alls),
        "rounds": rounds,
    }


async def mode_idle(args) -> dict | None:
    socks, errors = await open_many(args.url, args.sockets)
    await asyncio.sleep(args.settle)
    alive = sum(1 for ws in socks if ws.state.name == "OPEN")
    print(json.dumps({"open": alive, "connect_errors": len(errors), "errors": errors[:3]}))
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), args.hold)
    except TimeoutError:
        pass
    still = sum(1 for ws in socks if ws.state.name == "OPEN")
    await close_all(socks)
    print(json.dumps({"still_open": still}))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    echo = sub.add_parser("echo")
    echo.add_argument("--url", required=True)
    echo.add_argument("--clients", type=int, default=1)
    echo.add_argument("--duration", type=float, default=10.0)
    echo.add_argument("--warmup", type=float, default=1.0)
    echo.add_argument("--max-messages", type=int, default=200_000, help="per client")
    echo.add_argument("--size", type=int, default=32)
    echo.add_argument("--timeout", type=float, default=5.0)
    bc = sub.add_parser("broadcast")
    bc.add_argument("--url", required=True)
    bc.add_argument("--sockets", type=int, default=500)
    bc.add_argument("--broadcasts", type=int, default=7)
    bc.add_argument("--timeout", type=float, default=5.0, help="per broadcast")
    bc.add_argument("--pause", type=float, default=0.3)
    bc.add_argument("--settle", type=float, default=1.0)
    idle = sub.add_parser("idle")
    idle.add_argument("--url", required=True)
    idle.add_argument("--sockets", type=int, default=1000)
    idle.add_argument("--settle", type=float, default=2.0)
    idle.add_argument("--hold", type=float, default=120.0, help="longest wait for stdin")
    args = parser.parse_args(argv)
    result = asyncio.run(
        {"echo": mode_echo, "broadcast": mode_broadcast, "idle": mode_idle}[args.mode](args)
    )
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
