"""What processes publish for operators: heartbeat records and latency probes.

Workers, interface servers and the delay server each record a *heartbeat*
in the backend every few seconds (the backend's operations extension,
``record_heartbeat``), and ``channels status`` lists the live ones; workers
answer *latency probes* that ``channels latency`` sends on
:data:`PROBE_CHANNEL`. The writers and the reader of those records meet
here, so a field is named once (docs/architecture.rst, "Operations data").
This module imports no server: the CLI reads it without loading a worker.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, TypedDict

__all__ = [
    "DELAY_SERVER_KIND",
    "HEARTBEAT_LIFETIMES",
    "INTERFACE_KIND",
    "PROBE_CHANNEL",
    "WORKER_KIND",
    "HeartbeatRecord",
    "heartbeat_record",
    "heartbeat_ttl",
    "probe_answer",
    "probe_request",
    "process_ident",
]

#: Channel every worker serves, on which ``channels latency`` sends probes.
PROBE_CHANNEL = "channels.probe"

#: Heartbeat ``kind`` of a worker (``manage.py runworker``).
WORKER_KIND = "worker"
#: Heartbeat ``kind`` of an interface server (``manage.py runwsserver``).
INTERFACE_KIND = "interface"
#: Heartbeat ``kind`` of the delay server (``manage.py rundelay``).
DELAY_SERVER_KIND = "delay"

#: A heartbeat lives this many beat intervals, so a process that dies drops
#: off ``channels status`` by itself, and one late beat does not.
HEARTBEAT_LIFETIMES = 3


class HeartbeatRecord(TypedDict, total=False):
    """The fields of a heartbeat, as recorded and as ``channels status`` reads them.

    Every process: ``id`` (:func:`process_ident`), ``kind``, ``host``,
    ``pid``, ``started`` and ``beat`` (Unix times of the process start and
    of this beat).

    Workers and the delay server: ``channels`` served, ``handled`` (messages
    since start) and ``busy`` (fraction of the last minute in consumers).

    Interface servers: ``inbox``, ``listening`` (endpoints), ``connections``
    (open WebSockets), ``http_connections``, ``http_in_flight`` (requests
    waiting for a worker), ``accept_all`` and ``stopping``.
    """

    id: str
    kind: str
    host: str
    pid: int
    started: float
    beat: float
    channels: list[str]
    handled: int
    busy: float
    inbox: str
    listening: list[str]
    connections: int
    http_connections: int
    http_in_flight: int
    accept_all: bool
    stopping: bool


def process_ident(kind: str, token: str) -> str:
    """The heartbeat ``id`` of this process: kind, host, pid and six
    characters of ``token`` (random per process, so a reused pid differs)."""
    return f"{kind}.{socket.gethostname()}.{os.getpid()}.{token[:6]}"


def heartbeat_record(ident: str, kind: str, started: float, **load: Any) -> HeartbeatRecord:
    """A heartbeat of this process, beating now; ``load`` holds the fields
    of its kind (see :class:`HeartbeatRecord`)."""
    record: dict[str, Any] = {
        "id": ident,
        "kind": kind,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **load,
        "started": started,
        "beat": time.time(),
    }
    return record  # type: ignore[return-value]


def heartbeat_ttl(interval: float) -> float:
    """Seconds a heartbeat beaten every ``interval`` seconds is kept."""
    return HEARTBEAT_LIFETIMES * interval


def probe_request(number: int, reply_channel: str) -> dict[str, Any]:
    """A latency probe: a worker answers it on ``reply_channel``."""
    return {"probe": number, "sent": time.time(), "reply_channel": reply_channel}


def probe_answer(probe: dict[str, Any], worker: str) -> dict[str, Any]:
    """A worker's answer to ``probe``: its own fields back, the worker's
    ``id`` and when it answered."""
    return {
        "probe": probe.get("probe"),
        "sent": probe.get("sent"),
        "worker": worker,
        "answered": time.time(),
    }
