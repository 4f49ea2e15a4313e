"""channels.operations: the heartbeat and probe records, written by workers
and interface servers and read by the CLI, on a real memory backend."""

import os
import socket
import time

from channels.backends.memory import InMemoryChannelBackend
from channels.operations import (
    HeartbeatRecord,
    heartbeat_record,
    heartbeat_ttl,
    probe_answer,
    probe_request,
    process_ident,
)
from channels.workers.heartbeat import HEARTBEAT_INTERVAL, WorkerHeartbeat


def test_a_heartbeat_names_its_process_and_carries_its_load():
    before = time.time()
    record = heartbeat_record("worker.h.1.abcdef", "worker", 123.0, handled=4, busy=0.5)
    assert record == {
        "id": "worker.h.1.abcdef",
        "kind": "worker",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "handled": 4,
        "busy": 0.5,
        "started": 123.0,
        "beat": record["beat"],
    }
    assert before <= record["beat"] <= time.time()
    # Every field a record may carry is declared in one place.
    assert set(record) <= set(HeartbeatRecord.__annotations__)


def test_process_ident_is_kind_host_pid_and_six_characters_of_token():
    assert process_ident("interface", "0123456789") == (
        f"interface.{socket.gethostname()}.{os.getpid()}.012345"
    )


def test_a_probe_answer_returns_the_probe_fields_with_the_worker():
    probe = probe_request(7, "cli.latency.x!abc")
    assert probe["probe"] == 7 and probe["reply_channel"] == "cli.latency.x!abc"
    answer = probe_answer(probe, "worker.h.1.abcdef")
    assert answer["probe"] == 7 and answer["sent"] == probe["sent"]
    assert answer["worker"] == "worker.h.1.abcdef"
    assert answer["answered"] >= probe["sent"]


def test_a_worker_heartbeat_is_recorded_and_read_back_with_its_fields():
    backend = InMemoryChannelBackend(alias="ops-test")
    beat = WorkerHeartbeat(backend, ["http.request"])
    beat.consumed(0.01)
    beat.beat_if_due()
    [record] = backend.heartbeats()
    assert record["id"] == beat.ident and record["kind"] == "worker"
    assert record["channels"] == ["http.request"] and record["handled"] == 1
    assert set(record) <= set(HeartbeatRecord.__annotations__)
    assert heartbeat_ttl(HEARTBEAT_INTERVAL) == 3 * HEARTBEAT_INTERVAL
