"""A real deployment under traffic across a Redis failover, for the
Sentinel and Cluster tests: one ``runwsserver`` and two ``runworker`` of the
echo project (tests/backends/failover_settings.py), 50 WebSockets each
sending numbered messages and waiting for their echoes, and 10 members of a
group. :func:`run_deployment` runs it around a ``fail_over`` callable and
returns a :class:`Report` whose :meth:`~Report.check` asserts what survives.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import websockets
from websockets.asyncio.client import connect

from ..interfaces.harness import Stack

ECHO_SOCKETS = 50
ROOM_SOCKETS = 10
#: Seconds a socket waits for the echo of one message before sending the next.
ANSWER_WAIT = 1.0


class EchoingSocket:
    """One WebSocket sending numbered messages, each after the previous was
    answered or ANSWER_WAIT passed; records when each was sent and answered."""

    def __init__(self, ws, index: int) -> None:
        self.ws = ws
        self.index = index
        self.sent: dict[int, float] = {}
        self.answered: dict[int, float] = {}
        self.duplicates: list[int] = []
        self.unexpected: list[str] = []
        self._answer = asyncio.Event()

    async def read(self) -> None:
        async for text in self.ws:
            who, _, number = text.partition(":")
            if who != str(self.index) or not number.isdigit():
                self.unexpected.append(text)
                continue
            n = int(number)
            if n in self.answered:
                self.duplicates.append(n)
            self.answered[n] = time.monotonic()
            self._answer.set()

    async def talk(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            self._answer.clear()
            self.sent[n] = time.monotonic()
            await self.ws.send(f"{self.index}:{n}")
            try:
                await asyncio.wait_for(self._answer.wait(), ANSWER_WAIT)
            except TimeoutError:
                pass
            n += 1
            await asyncio.sleep(0.05)


async def _deployment(port: int, fail_over) -> Report:
    url = f"ws://127.0.0.1:{port}"
    echo = [await connect(f"{url}/echo/", open_timeout=20) for _ in range(ECHO_SOCKETS)]
    room = [await connect(f"{url}/room/", open_timeout=20) for _ in range(ROOM_SOCKETS)]
    sockets = [EchoingSocket(ws, index) for index, ws in enumerate(echo)]
    readers = [asyncio.create_task(sock.read()) for sock in sockets]
    stop = asyncio.Event()
    talkers = [asyncio.create_task(sock.talk(stop)) for sock in sockets]

    async def room_round(text: str) -> int:
        """How many room members got ``text`` sent by the first one."""
        await room[0].send(text)
        received = 0
        for ws in room:
            try:
                while await asyncio.wait_for(ws.recv(), 10) != text:
                    pass
                received += 1
            except TimeoutError:
                pass
        return received

    room_before = await room_round("before")
    await asyncio.sleep(2)  # steady traffic
    kill_at = await asyncio.to_thread(fail_over)

    # Back once every socket has had a message sent after the kill answered.
    def recovered() -> float | None:
        times = []
        for sock in sockets:
            after = [t for n, t in sock.answered.items() if sock.sent[n] > kill_at]
            if not after:
                return None
            times.append(min(after))
        return max(times)

    deadline = time.monotonic() + 60
    while (recovered_at := recovered()) is None:
        assert time.monotonic() < deadline, "service did not come back"
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)  # steady again
    stop.set()
    await asyncio.gather(*talkers)
    await asyncio.sleep(ANSWER_WAIT)  # late answers
    room_after = await room_round("after")
    for ws in echo + room:
        assert ws.state is websockets.State.OPEN, "a socket was closed"
    for ws in echo + room:
        await ws.close()
    await asyncio.gather(*readers, return_exceptions=True)
    return Report(kill_at, recovered_at, sockets, room_before, room_after)


@dataclass
class Report:
    """What happened: when the primary was killed, when every socket was
    answered again, each socket's record, and the group members reached."""

    kill_at: float
    recovered_at: float
    sockets: list[EchoingSocket]
    room_before: int
    room_after: int

    def lost(self) -> list[tuple[int, int, float]]:
        """(socket, message, sent at) of every unanswered message."""
        return [
            (sock.index, n, sent_at)
            for sock in self.sockets
            for n, sent_at in sock.sent.items()
            if n not in sock.answered
        ]

    def in_outage(self) -> int:
        """Unanswered messages, less each socket's last (still on its way)."""
        last = {sock.index: max(sock.sent) for sock in self.sockets}
        return sum(1 for index, n, _ in self.lost() if n != last[index])

    def check(self, budget: float) -> None:
        """Service back within ``budget`` seconds of the kill; every message
        answered at most once, and all but those sent during the outage
        exactly once; the group whole before and after."""
        back = self.recovered_at - self.kill_at
        assert back <= budget, f"service back after {back:.1f} s"
        for sock in self.sockets:
            assert sock.duplicates == [], f"socket {sock.index} answered twice: {sock.duplicates}"
            assert sock.unexpected == [], sock.unexpected
        last = {sock.index: max(sock.sent) for sock in self.sockets}
        for index, n, sent_at in self.lost():
            in_outage = self.kill_at - ANSWER_WAIT <= sent_at <= self.recovered_at
            assert in_outage or n == last[index], (index, n, sent_at - self.kill_at)
        assert self.room_before == self.room_after == ROOM_SOCKETS

    def summary(self) -> str:
        answered = sum(len(sock.answered) for sock in self.sockets)
        return (
            f"failover: service back {self.recovered_at - self.kill_at:.2f} s after the kill; "
            f"{answered} messages answered exactly once, {self.in_outage()} lost in the outage"
        )


def run_deployment(tmp_path: Path, backend_options: dict, fail_over) -> Report:
    """Start the deployment on a Redis backend with ``backend_options``
    (HOSTS, CLUSTER), run the traffic around ``fail_over()`` (which kills a
    primary, waits for the replacement and returns the monotonic time of
    the kill), check no process exited, and report."""
    stack = Stack(
        tmp_path,
        "redis",
        DJANGO_SETTINGS_MODULE="tests.backends.failover_settings",
        CHANNELS_TEST_REDIS_OPTIONS=json.dumps(backend_options),
        CHANNELS_TEST_PREFIX="fo" + secrets.token_hex(4),
    )
    try:
        workers = [stack.start_worker(), stack.start_worker()]
        server, port = stack.start_server()
        report = asyncio.run(asyncio.wait_for(_deployment(port, fail_over), 180))
        for process in [*workers, server]:
            assert process.popen.poll() is None, process.output()
    finally:
        stack.stop()
    return report
