"""The ``channels`` CLI against running deployments: status, latency,
bench and flush, with their output checked (table and ``--json``)."""

from __future__ import annotations

import asyncio
import re

import pytest
import websockets

from .harness import OpsDeployment, wait_until

# A table row is its cells separated by two or more spaces.
_CELLS = re.compile(r"\s{2,}")


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The rows of the table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    assert set(lines[start + 1].replace(" ", "")) == {"-"}, lines[start + 1]
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(_CELLS.split(line.strip()))
    return rows


def processes_by_kind(status: dict) -> dict[str, list[dict]]:
    """The heartbeats of a ``status --json`` output, grouped by kind."""
    kinds: dict[str, list[dict]] = {}
    for process in status["processes"]:
        kinds.setdefault(process["kind"], []).append(process)
    return kinds


def test_status_lists_waiting_channels_and_every_process(deployment):
    deployment.send("ops.unserved", {"n": 1}, count=7)
    status = wait_until(
        lambda: (
            (s := deployment.cli_json("status"))
            and len(processes_by_kind(s).get("worker", [])) == 2
            and s
        )
    )

    # --json: the channel with its depth, capacity and age; both kinds of process.
    waiting = {c["name"]: c for c in status["channels"]}
    assert waiting["ops.unserved"]["depth"] == 7
    assert waiting["ops.unserved"]["capacity"] == 40
    assert 0 <= waiting["ops.unserved"]["oldest_age"] < 60
    kinds = processes_by_kind(status)
    assert sorted(p["pid"] for p in kinds["worker"]) == sorted(
        w.popen.pid for w in deployment.workers
    )
    (interface,) = kinds["interface"]
    assert interface["pid"] == deployment.servers[0].popen.pid
    assert interface["accept_all"] is True
    assert str(deployment.port) in " ".join(interface["listening"])
    for process in status["processes"]:
        assert 0 <= process["last_seen"] < 15  # three heartbeat intervals
    for worker in kinds["worker"]:
        assert "ops.task" in worker["channels"] and 0 <= worker["busy"] <= 1

    # The table: the same facts, readable.
    done = deployment.cli("status")
    assert done.returncode == 0, done.stderr
    channels = table_rows(done.stdout, "channel")
    row = next(r for r in channels if r[0] == "ops.unserved")
    assert row[1:3] == ["7", "40"]
    assert re.fullmatch(r"\d+\.\ds", row[3]), row
    processes = table_rows(done.stdout, "kind")
    assert sorted(r[0] for r in processes) == ["interface", "worker", "worker"]
    for kind, ident, pid, beat, load, busy in processes:
        assert re.fullmatch(r"\d+\.\ds ago", beat), beat
        assert ident.startswith(kind + ".") and int(pid) > 0
        if kind == "worker":
            assert re.fullmatch(r"\d+ handled", load) and busy.endswith("%")
        else:
            assert re.fullmatch(r"\d+ ws, \d+ http in flight", load), load


def test_status_counts_open_websockets_of_the_interface_server(deployment):
    async def hold_sockets():
        sockets = [await websockets.connect(deployment.url("/echo/", "ws")) for _ in range(3)]
        try:

            def three_open():
                (interface,) = processes_by_kind(deployment.cli_json("status"))["interface"]
                return interface["connections"] == 3

            # The next heartbeat (every 5 s) carries the new count.
            await asyncio.to_thread(wait_until, three_open, 20, 0.5)
        finally:
            for socket in sockets:
                await socket.close()

    asyncio.run(asyncio.wait_for(hold_sockets(), 60))


def test_latency_probes_are_answered_by_both_workers(deployment):
    done = deployment.cli("latency", "-n", "40", "--interval", "0.01")
    assert done.returncode == 0, done.stderr
    ((probes, answered, lost, workers, p50, p95, p99, worst),) = table_rows(done.stdout, "probes")
    assert (probes, answered, lost, workers) == ("40", "40", "0", "2")
    # Percentiles in order; how fast they are is for bench/, not a test.
    assert 0 < float(p50) <= float(p95) <= float(p99) <= float(worst)

    result = deployment.cli_json("latency", "-n", "10", "--interval", "0.01")
    assert result["probes"] == result["answered"] == 10
    assert result["lost"] == 0
    assert 1 <= result["workers"] <= 2
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]


@pytest.mark.usefixtures("ops_redis")
def test_latency_without_workers_is_a_clear_error(tmp_path):
    lonely = OpsDeployment(tmp_path)  # its own prefix: no worker serves it
    try:
        done = lonely.cli("latency", "-n", "2", "--timeout", "0.5", "--interval", "0")
        assert done.returncode != 0
        assert "no probe was answered: is any worker running?" in done.stderr
        ((probes, answered, lost, workers, *_),) = table_rows(done.stdout, "probes")
        assert (probes, answered, lost, workers) == ("2", "0", "2", "0")
    finally:
        lonely.stop()


def test_bench_http(deployment):
    done = deployment.cli("bench", "http", deployment.url("/"), "-n", "150", "-c", "5")
    assert done.returncode == 0, done.stderr
    ((completed, errors, seconds, per_second, p50, p95, p99),) = table_rows(
        done.stdout, "completed"
    )
    assert (completed, errors) == ("150", "0")
    assert float(seconds) > 0 and float(per_second) > 0
    assert 0 < float(p50) <= float(p95) <= float(p99)
    assert "HTTP" in done.stderr  # the progress bar goes to stderr

    result = deployment.cli_json("bench", "http", deployment.url("/"), "-n", "40", "-c", "4")
    assert result["completed"] == 40 and result["errors"] == 0 and result["error_kinds"] == {}
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


def test_bench_http_counts_errors(deployment):
    result = deployment.cli_json("bench", "http", deployment.url("/missing/"), "-n", "5", "-c", "1")
    assert result["completed"] == 0
    assert result["errors"] == 5 and result["error_kinds"] == {"HTTP 404": 5}


def test_bench_ws(deployment):
    url = deployment.url("/echo/", "ws")
    done = deployment.cli("bench", "ws", url, "-n", "200", "-c", "5")
    assert done.returncode == 0, done.stderr
    ((completed, errors, *_),) = table_rows(done.stdout, "completed")
    assert (completed, errors) == ("200", "0")

    result = deployment.cli_json("bench", "ws", url, "-n", "60", "-c", "3", "--text", "x" * 100)
    assert result["completed"] == 60 and result["errors"] == 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]


@pytest.mark.usefixtures("ops_redis")
def test_flush_asks_first(tmp_path):
    d = OpsDeployment(tmp_path)

    def waiting() -> dict[str, int]:
        return {c["name"]: c["depth"] for c in d.cli_json("status")["channels"]}

    try:
        d.send("ops.unserved", {"n": 1}, count=5)
        assert waiting() == {"ops.unserved": 5}

        refused = d.cli("flush", input="n\n")
        assert refused.returncode == 1
        assert "Drop every message and group" in refused.stdout
        assert "Aborted" in refused.stderr
        assert waiting() == {"ops.unserved": 5}

        confirmed = d.cli("flush", input="y\n")
        assert confirmed.returncode == 0, confirmed.stderr
        assert "Flushed" in confirmed.stdout
        assert waiting() == {}
        assert "no messages waiting" in d.cli("status").stdout

        d.send("ops.unserved", {"n": 2}, count=3)
        assert waiting() == {"ops.unserved": 3}
        done = d.cli("flush", "--yes")
        assert done.returncode == 0 and "Flushed" in done.stdout
        assert waiting() == {}
    finally:
        d.stop()


def test_status_on_the_database_backend(tmp_path):
    d = OpsDeployment(tmp_path, backend="database")
    try:
        d.start_server()
        d.start_worker()
        d.send("ops.unserved", {"n": 1}, count=4)
        status = d.cli_json("status")
        assert [(c["name"], c["depth"], c["capacity"]) for c in status["channels"]] == [
            ("ops.unserved", 4, 40)
        ]
        kinds = processes_by_kind(status)
        assert [p["pid"] for p in kinds["worker"]] == [d.workers[0].popen.pid]
        assert [p["pid"] for p in kinds["interface"]] == [d.servers[0].popen.pid]

        done = d.cli("status")
        assert done.returncode == 0, done.stderr
        assert table_rows(done.stdout, "channel")[0][:3] == ["ops.unserved", "4", "40"]
        assert sorted(r[0] for r in table_rows(done.stdout, "kind")) == ["interface", "worker"]

        # Probes over the database backend too.
        result = d.cli_json("latency", "-n", "5", "--interval", "0")
        assert result["answered"] == 5 and result["workers"] == 1
    finally:
        d.stop()
