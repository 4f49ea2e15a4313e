"""WebSocket load generator for the peer benchmarks (asyncio + ``websockets``).

Run it in the client venv (``/tmp/bench-peers/client``), pinned to the load
generator's core. Every mode is bounded both in message count and in time,
and prints one JSON object on stdout.

    python loadgen_ws.py echo --url ws://127.0.0.1:8000/ws/echo/ --clients 1
    python loadgen_ws.py echo --engine asyncio ...   # the older, costlier client
    python loadgen_ws.py broadcast --url ws://127.0.0.1:8000/ws/broadcast/ --sockets 500
    python loadgen_ws.py idle --url ws://127.0.0.1:8000/ws/echo/ --sockets 1000

``idle`` opens the sockets, prints ``{"open": n, ...}``, then keeps them open
until a line arrives on stdin (or ``--hold`` seconds pass), and closes them.

``echo`` runs on ``websockets``' sans-I/O protocol under plain asyncio
``Protocol`` callbacks (uvloop when installed): no task, future or queue per
message, about a third of the CPU per echo of the ``websockets`` asyncio client
(``--engine asyncio``), which saturated its core before the fastest peer did
(bench/peers/README.md). It prints ``{"phase": "measure"}`` when the warm-up
ends and ``{"phase": "done"}`` when the measured window closes, so the driver
can read server CPU over exactly that window, and reports its own CPU share
(``loadgen_cpu``): near 1.0 means the generator, not the server, set the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import WebSocketException
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

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


def phase(name: str) -> None:
    """Tell the driver where the measured window starts and ends."""
    print(json.dumps({"phase": name}), flush=True)


class SansIOEcho(asyncio.Protocol):
    """One WebSocket connection echoing in a closed loop, driven by callbacks."""

    def __init__(self, url: str, payload: str, run: EchoRun) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=CONNECT_KW["max_size"])
        self.payload = payload
        self.run = run
        self.opened = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0
        self.busy = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self.flush()

    def flush(self) -> None:
        data = self.ws.data_to_send()
        if data and self.transport is not None:
            self.transport.writelines(data)

    def send_one(self) -> None:
        run = self.run
        if not run.going():
            self.busy = False
            return
        self.busy = True
        self.sent_at = time.perf_counter()
        self.ws.send_text(self.payload.encode())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self.fail(f"handshake: {self.ws.handshake_exc}")
                elif not self.opened.done():
                    self.opened.set_result(None)
            elif event.opcode is Opcode.TEXT:
                now = time.perf_counter()
                if event.data.decode() != self.payload:
                    self.fail("wrong echo")
                    return
                self.run.done(self.sent_at, now)
                self.send_one()
        self.flush()  # pongs, close frames

    def fail(self, why: str) -> None:
        self.run.failures.append(why[:200])
        self.busy = False
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if self.busy:
            self.fail(f"connection lost: {exc}")
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during handshake: {exc}"))


class EchoRun:
    """Shared bookkeeping of one echo run: window, counts, round-trip times."""

    def __init__(self, warm_until: float, deadline: float, max_messages: int) -> None:
        self.warm_until, self.deadline, self.max_messages = warm_until, deadline, max_messages
        self.rtts: list[float] = []
        self.failures: list[str] = []
        self.finished = asyncio.get_running_loop().create_future()
        self.active = 0

    def going(self) -> bool:
        return time.perf_counter() < self.deadline and len(self.rtts) < self.max_messages

    def done(self, sent_at: float, now: float) -> None:
        if sent_at >= self.warm_until:
            self.rtts.append(now - sent_at)


async def echo_sansio(args) -> dict:
    """Closed loop on the sans-I/O protocol: the cheap generator."""
    loop = asyncio.get_running_loop()
    uri = parse_uri(args.url)
    payload = "x" * args.size
    far = time.perf_counter() + 3600
    run = EchoRun(far, far, args.max_messages * args.clients)
    conns: list[SansIOEcho] = []
    errors: list[str] = []
    sem = asyncio.Semaphore(50)

    async def open_one():
        async with sem:
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: SansIOEcho(args.url, payload, run), uri.host, uri.port
                    ),
                    CONNECT_KW["open_timeout"],
                )
                await asyncio.wait_for(conn.opened, CONNECT_KW["open_timeout"])
                conns.append(conn)
            except (TimeoutError, OSError, ConnectionError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    await asyncio.gather(*(open_one() for _ in range(args.clients)))
    if not conns:
        return {"error": "no connection", "connect_errors": errors[:5]}
    start = time.perf_counter()
    run.warm_until = start + args.warmup
    run.deadline = run.warm_until + args.duration
    for conn in conns:
        conn.send_one()
    await asyncio.sleep(max(0.0, run.warm_until - time.perf_counter()))
    phase("measure")
    cpu0, t0 = time.process_time(), time.perf_counter()
    # Bounded: every connection stops sending at the deadline; wait for the
    # last replies (at most --timeout more).
    await asyncio.sleep(max(0.0, run.deadline - time.perf_counter()))
    cpu1, t1 = time.process_time(), time.perf_counter()
    phase("done")
    end = time.perf_counter() + args.timeout
    while any(c.busy for c in conns) and time.perf_counter() < end:
        await asyncio.sleep(0.01)
    stuck = sum(1 for c in conns if c.busy)
    for conn in conns:
        if conn.transport is not None:
            conn.ws.send_close()
            conn.flush()
            conn.transport.close()
    elapsed = t1 - t0
    failures = run.failures + ([f"{stuck} echoes unanswered"] if stuck else [])
    return {
        "engine": "sansio",
        **echo_summary(len(conns), run.rtts, elapsed, failures, len(errors)),
        "loadgen_cpu": round((cpu1 - cpu0) / elapsed, 3) if elapsed > 0 else None,
    }


def echo_summary(
    clients: int, rtts: list[float], elapsed: float, failures: list[str], connect_errors: int
) -> dict:
    """The figures of one echo run, whichever engine made them."""
    return {
        "clients": clients,
        "messages": len(rtts),
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(len(rtts) / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": ms(pct(rtts, 50)),
        "p99_ms": ms(pct(rtts, 99)),
        "mean_ms": ms(statistics.fmean(rtts)) if rtts else None,
        "failures": len(failures),
        "failure_samples": failures[:5],
        "connect_errors": connect_errors,
    }


async def mode_echo(args) -> dict:
    """Closed loop: each client sends a message and waits for its echo."""
    if args.engine == "sansio":
        return await echo_sansio(args)
    return await echo_asyncio(args)


async def echo_asyncio(args) -> dict:
    """The ``websockets`` asyncio client: a coroutine per client, a future per message."""
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

    async def mark() -> tuple[float, float]:
        await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
        phase("measure")
        cpu = time.process_time()
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        phase("done")
        return cpu, time.process_time()

    marker = asyncio.ensure_future(mark())
    await asyncio.gather(*(client(ws, deadline) for ws in socks))
    elapsed = time.perf_counter() - max(start, warm_until)
    cpu0, cpu1 = await marker
    await close_all(socks)
    return {
        "engine": "asyncio",
        "loadgen_cpu": round((cpu1 - cpu0) / args.duration, 3),
        **echo_summary(len(socks), rtts, elapsed, failures, len(errors)),
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
    echo.add_argument("--engine", choices=["sansio", "asyncio"], default="sansio")
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
    try:
        import uvloop  # the cheaper event loop, when the client venv has it
    except ImportError:
        uvloop = None
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(
        {"echo": mode_echo, "broadcast": mode_broadcast, "idle": mode_idle}[args.mode](args)
    )
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
