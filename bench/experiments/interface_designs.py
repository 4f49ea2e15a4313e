"""Prototype: two designs of the interface server's Redis I/O, same echo load.

Not the product: a scratch interface server (Twisted + Autobahn, WebSocket
echo only) built two ways, to measure the CPU per message of each before
phase 2 of issue 11 changes ``channels/interfaces/`` (which this does not
import):

* ``threads``: today's design. The reactor hands each frame to one sender
  thread, which sends what has queued up with ``backend.send_many`` (one
  script call per batch); one inbox thread blocks in
  ``backend.receive_many([inbox])``, drains what else is waiting, and hands
  the batch to the reactor with ``callFromThread``.
* ``asyncio``: Twisted's asyncio reactor on uvloop; the Redis I/O runs in
  the reactor thread with ``redis.asyncio`` (what Daphne 4 does): frames
  are queued and sent by one task with the same send script, and one task
  pops the inbox (the same batch-pop script, ``BLPOP`` when it is empty).
  No threads, no cross-thread hand-offs.

Both speak the Redis backend's key layout and scripts, so the worker is our
real backend in a loop of ``send_and_receive`` (reply + next message in one
round trip, the phase-2 worker). Run everything at once:

    python bench/experiments/interface_designs.py --design threads
    python bench/experiments/interface_designs.py --design asyncio

It starts a private Redis, the worker and the interface pinned to CPU 0,
the load generator (bench/peers/loadgen_ws.py, 50 clients) on CPU 1, and
prints msgs/s, latency and CPU per message of each process (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "peers"))

INBOX = "exp.iface!"
REQUESTS = "exp.websocket.receive"


def backend(url: str):
    from channels.backends.redis import RedisChannelBackend

    return RedisChannelBackend("default", HOSTS=[url], PREFIX="exp:", CAPACITY=1000)


# --- the worker: the phase-2 loop -------------------------------------------------


def run_worker(url: str) -> None:
    b = backend(url)
    replies: list = []
    while True:
        turn = b.send_and_receive(replies, [REQUESTS], block=True)
        replies = []
        if turn.error is not None:
            print(f"worker: {turn.error}", file=sys.stderr, flush=True)
        if turn.message is not None:
            replies = [(turn.message["reply_channel"], {"text": turn.message["text"]})]


# --- the interface, either design ---------------------------------------------------


def run_interface(url: str, port: int, design: str) -> None:
    if design == "asyncio":
        import asyncio

        import uvloop
        from twisted.internet import asyncioreactor

        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet import reactor

    sockets: dict[str, WebSocketServerProtocol] = {}
    b = backend(url)
    if design == "threads":
        outgoing, start = threads_io(b, reactor, sockets)
    else:
        outgoing, start = asyncio_io(b, sockets)

    class Echo(WebSocketServerProtocol):
        def onOpen(self):
            self.reply_channel = b.new_channel(INBOX)
            sockets[self.reply_channel] = self

        def onMessage(self, payload, is_binary):
            outgoing(REQUESTS, {"reply_channel": self.reply_channel, "text": payload.decode()})

        def onClose(self, was_clean, code, reason):
            sockets.pop(getattr(self, "reply_channel", ""), None)

    factory = WebSocketServerFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = Echo
    factory.setProtocolOptions(perMessageCompressionAccept=lambda offers: None)
    reactor.listenTCP(port, factory, interface="127.0.0.1")
    start()
    print("ready", flush=True)
    reactor.run()


def deliver(sockets, channel: str, message: dict) -> None:
    sock = sockets.get(channel)
    if sock is not None:
        sock.sendMessage(message["text"].encode())


def threads_io(b, reactor, sockets):
    """Today's design: a sender thread and an inbox thread."""
    import threading
    from collections import deque

    queue: deque = deque()
    cond = threading.Condition()
    waiting = [False]

    def outgoing(channel, message):
        with cond:
            queue.append((channel, message))
            if waiting[0]:
                cond.notify()

    def sender():
        while True:
            with cond:
                while not queue:
                    waiting[0] = True
                    cond.wait()
                    waiting[0] = False
                batch = [queue.popleft() for _ in range(min(len(queue), 256))]
            b.send_many(batch)

    def inbox():
        while True:
            channel, message = b.receive_many([INBOX], block=True)
            if channel is None:
                continue
            batch = [(channel, message)]
            while len(batch) < 256:
                channel, message = b.receive_many([INBOX])
                if channel is None:
                    break
                batch.append((channel, message))
            reactor.callFromThread(lambda batch=batch: [deliver(sockets, *m) for m in batch])

    def start():
        threading.Thread(target=sender, daemon=True).start()
        threading.Thread(target=inbox, daemon=True).start()

    return outgoing, start


def asyncio_io(b, sockets):
    """Redis I/O inside the reactor: redis.asyncio, no threads."""
    import asyncio

    import redis.asyncio as aioredis

    from channels.backends.redis.scripts import SCRIPTS
    from channels.names import inbox_of
    from channels.serialization import decode, encode

    client = aioredis.Redis.from_url(b.shards[0].spec.url)
    send_each, pop_batch = SCRIPTS["send_each"], SCRIPTS["pop_batch"]
    queue: list = []
    wake = asyncio.Event()
    inbox_keys = [b._q + INBOX, b._n + INBOX]

    def outgoing(channel, message):
        queue.append((channel, encode(message)))
        wake.set()

    async def sender():
        while True:
            await wake.wait()
            wake.clear()
            while queue:
                batch = queue[:256]
                del queue[:256]
                now = int(time.time() * 1000)
                keys, args = [], [now, b._ttl_ms]
                for channel, data in batch:
                    inbox = inbox_of(channel)
                    tag = channel if inbox != channel else ""
                    keys += (b._q + inbox, b._n + inbox)
                    args += (tag, 1000, b"%d:%s:%s" % (now + b._expiry_ms, tag.encode(), data))
                await client.evalsha(send_each.sha, len(keys), *keys, *args)

    async def reader():
        uncount: list[bytes] = []
        while True:
            now = int(time.time() * 1000)
            elements = await client.evalsha(pop_batch.sha, 2, *inbox_keys, now, 100, *uncount)
            uncount = []
            if not elements:
                reply = await client.blpop(inbox_keys[:1], timeout=1)
                if reply is None:
                    continue
                elements = [reply[1]]
                tag = reply[1].split(b":", 2)[1]
                if tag:
                    uncount.append(tag)
            for element in elements:
                _, tag, payload = element.split(b":", 2)
                deliver(sockets, tag.decode(), decode(payload))

    def start():
        r = b.shards[0]
        r.command("SCRIPT", "LOAD", send_each.source)
        r.command("SCRIPT", "LOAD", pop_batch.source)
        loop = asyncio.get_event_loop()
        loop.create_task(sender())
        loop.create_task(reader())

    return outgoing, start


# --- the driver -------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--design", choices=["threads", "asyncio"], default="threads")
    p.add_argument("--role", choices=["driver", "worker", "interface"], default="driver")
    p.add_argument("--url", default="")
    p.add_argument("--port", type=int, default=8795)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=8.0)
    args = p.parse_args()
    if args.role == "worker":
        run_worker(args.url)
        return 0
    if args.role == "interface":
        run_interface(args.url, args.port, args.design)
        return 0
    import run as peers  # bench/peers/run.py: pinning, CPU accounting

    redis_port = 6397
    with peers.Redis(redis_port, "0", True) as redis:
        url = f"redis://127.0.0.1:{redis_port}/0"
        me = [sys.executable, __file__, "--design", args.design, "--url", url]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        worker = subprocess.Popen(peers.taskset("0", [*me, "--role", "worker"]), env=env)
        iface = subprocess.Popen(
            peers.taskset("0", [*me, "--role", "interface", "--port", str(args.port)]),
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert iface.stdout.readline().strip() == "ready"
            samples = {}

            def on_phase(name):
                samples[name] = {
                    "interface": peers.cpu_seconds(iface.pid),
                    "worker": peers.cpu_seconds(worker.pid),
                    "redis": peers.cpu_seconds(redis.pid),
                }

            cmd = peers.taskset("1", [
                peers.client_python(), str(peers.LOADGEN_WS), "echo",
                "--url", f"ws://127.0.0.1:{args.port}/", "--clients", str(args.clients),
                "--duration", str(args.duration), "--warmup", "1",
            ])  # fmt: skip
            out = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            result = {}
            for line in out.stdout:
                if line.startswith('{"phase"'):
                    on_phase(json.loads(line)["phase"])
                elif line.startswith("{"):
                    result = json.loads(line)
            out.wait(60)
            n = result.get("messages") or 1
            cpu = {
                k: round((samples["done"][k] - samples["measure"][k]) * 1e6 / n, 1)
                for k in samples["done"]
            }
            cpu["total"] = round(sum(cpu.values()), 1)
            print(json.dumps({
                "design": args.design,
                "msgs_per_s": result.get("msgs_per_s"),
                "p50_ms": result.get("p50_ms"),
                "p99_ms": result.get("p99_ms"),
                "failures": result.get("failures"),
                "cpu_us_per_msg": cpu,
                "loadgen_cpu": result.get("loadgen_cpu"),
                "loadavg": os.getloadavg()[0],
            }))  # fmt: skip
        finally:
            for proc in (iface, worker):
                proc.terminate()
                proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
