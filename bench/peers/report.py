"""What run.py makes of the raw results: medians over runs, the table of
bench/RESULTS.md (with ratios ours / peer and the targets), and the one-line
progress digest of a workload."""

from __future__ import annotations

import statistics

from peers import ALL_PEERS, HERE


def med(values):
    """Median of the numbers in ``values`` (None when there are none)."""
    vals = [v for v in values if isinstance(v, int | float)]
    return statistics.median(vals) if vals else None


CPU_ROLES = ("total", "interface", "worker", "redis")


def summarize(runs: list[dict]) -> dict:
    """Medians over runs of the figures that go into the table."""

    def col(*path):
        vals = []
        for r in runs:
            cur = r
            for key in path:
                cur = cur.get(key) if isinstance(cur, dict) else None
            vals.append(cur)
        return med(vals)

    s: dict = {}
    for c in (1, 10, 100):
        for k in ("rps", "p50_ms", "p99_ms"):
            s[f"http_c{c}_{k}"] = col("http", f"c{c}", k)
        s[f"http_c{c}_errors"] = col("http", f"c{c}", "socket_errors")
        for role in CPU_ROLES:
            s[f"http_c{c}_cpu_{role}"] = col("http", f"c{c}", "cpu_us", role)
        s[f"http_c{c}_non2xx"] = col("http", f"c{c}", "non_2xx")
    for n in (1, 50):
        for k in ("msgs_per_s", "p50_ms", "p99_ms", "failures"):
            s[f"ws{n}_{k}"] = col("ws", f"clients{n}", k)
        for role in CPU_ROLES:
            s[f"ws{n}_cpu_{role}"] = col("ws", f"clients{n}", "cpu_us", role)
        s[f"ws{n}_loadgen_cpu"] = col("ws", f"clients{n}", "loadgen_cpu")
    s["bc_fraction"] = col("broadcast", "fraction_delivered_median")
    s["bc_all_p50_ms"] = col("broadcast", "time_to_all_p50_ms")
    s["bc_first_p50_ms"] = med(
        [med([x.get("first_ms") for x in r.get("broadcast", {}).get("rounds", [])]) for r in runs]
    )
    s["mem_kib"] = col("memory", "kib_per_socket")
    s["mem_all_kib"] = col("memory", "all_processes_kib_per_socket")
    s["runs"] = len(runs)
    return s


def fmt(v, digits=0, unit=""):
    """A table cell for ``v``."""
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b, higher_better=True):
    """The cell ``a / b`` (ours / peer)."""
    if a is None or b is None or b == 0 or a == 0:
        return "—"
    r = a / b
    return f"{r:.2f}×"


ROWS = [
    # (label, key, digits, unit, higher_is_better)
    ("HTTP hello c=1: req/s", "http_c1_rps", 0, "", True),
    ("HTTP hello c=1: p50", "http_c1_p50_ms", 2, " ms", False),
    ("HTTP hello c=1: p99", "http_c1_p99_ms", 2, " ms", False),
    ("HTTP hello c=10: req/s", "http_c10_rps", 0, "", True),
    ("HTTP hello c=10: p50", "http_c10_p50_ms", 2, " ms", False),
    ("HTTP hello c=10: p99", "http_c10_p99_ms", 2, " ms", False),
    ("HTTP hello c=10: CPU/req, all server processes", "http_c10_cpu_total", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, interface", "http_c10_cpu_interface", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, worker(s)", "http_c10_cpu_worker", 0, " µs", False),
    ("HTTP hello c=10: CPU/req, Redis", "http_c10_cpu_redis", 0, " µs", False),
    ("HTTP hello c=100: req/s", "http_c100_rps", 0, "", True),
    ("HTTP hello c=100: p50", "http_c100_p50_ms", 2, " ms", False),
    ("HTTP hello c=100: p99", "http_c100_p99_ms", 2, " ms", False),
    ("WS echo 1 client: msgs/s", "ws1_msgs_per_s", 0, "", True),
    ("WS echo 1 client: p50", "ws1_p50_ms", 2, " ms", False),
    ("WS echo 1 client: p99", "ws1_p99_ms", 2, " ms", False),
    ("WS echo 1 client: CPU/msg, all server processes", "ws1_cpu_total", 0, " µs", False),
    ("WS echo 50 clients: msgs/s", "ws50_msgs_per_s", 0, "", True),
    ("WS echo 50 clients: p50", "ws50_p50_ms", 2, " ms", False),
    ("WS echo 50 clients: p99", "ws50_p99_ms", 2, " ms", False),
    ("WS echo 50 clients: CPU/msg, all server processes", "ws50_cpu_total", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, interface", "ws50_cpu_interface", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, worker(s)", "ws50_cpu_worker", 0, " µs", False),
    ("WS echo 50 clients: CPU/msg, Redis", "ws50_cpu_redis", 0, " µs", False),
    ("WS echo 50 clients: load generator's own CPU", "ws50_loadgen_cpu", 2, "", False),
    ("broadcast to 500: fraction delivered", "bc_fraction", 3, "", True),
    ("broadcast to 500: time to all, p50", "bc_all_p50_ms", 1, " ms", False),
    ("broadcast to 500: time to first, p50", "bc_first_p50_ms", 1, " ms", False),
    ("idle WebSocket: interface RSS / socket", "mem_kib", 1, " KiB", False),
    ("idle WebSocket: all server processes / socket", "mem_all_kib", 1, " KiB", False),
]


# Absolute targets for ours from issue 11 (key -> (bound, "min" or "max"));
# its HTTP targets are ratios to the peers, read from the ratio columns.
TARGETS = {
    "ws50_cpu_total": (250, "max"),
    "ws50_p99_ms": (25.0, "max"),
    "bc_fraction": (1.0, "min"),
    "bc_all_p50_ms": (50.0, "max"),
    "mem_kib": (12.0, "max"),
}
NOTES = HERE / "results_notes.md"


def target_cell(key: str, value) -> str:
    """The target column's cell for ``key``: bound and met/missed."""
    if key not in TARGETS:
        return ""
    bound, kind = TARGETS[key]
    sign = "≥" if kind == "min" else "≤"
    if value is None:
        return f"{sign} {bound:g}"
    ok = value >= bound if kind == "min" else value <= bound
    return f"{sign} {bound:g} {'(met)' if ok else '(missed)'}"


def render_markdown(doc: dict) -> str:
    """bench/RESULTS.md for the raw result ``doc``."""
    peers = doc["peers"]
    names = [p for p in ALL_PEERS if p in peers]
    summaries = {n: peers[n].get("summary", {}) for n in names}
    # ratios against the other projects, not against ours on other backends
    others = [n for n in names if not n.startswith("ours")]
    lines = [
        "# Benchmarks against peers",
        "",
        f"Measured {doc['date']} on `{doc['machine']['node']}` "
        f"({doc['machine']['cpus']} cores, {doc['machine']['cpu_model']}, "
        f"{doc['machine']['platform']}), Redis {doc['redis_version']}"
        + (f", ours at `{doc['ours_commit']}`." if doc.get("ours_commit") else "."),
        f"Medians of {doc['runs']} runs; server processes and Redis pinned to CPU "
        f"`{doc['server_cpus']}`, load generators (wrk, the sans-I/O `websockets` client) to "
        f"CPU `{doc['client_cpus']}`; loopback only. "
        f"Workers per split-architecture peer: {doc['workers']}; channel capacity: "
        f"{doc.get('capacity', '?')}.",
        "Lower is better for latencies and memory, higher for rates and fractions. "
        "A ratio is ours / peer.",
        "",
    ]
    has_ours = "ours" in names
    header = "| workload | " + " | ".join(peers[n]["title"] for n in names)
    header += "".join(f" | ours / {n}" for n in others if has_ours)
    header += " | target for ours (issue 11) |" if has_ours else " |"
    ncols = 1 + len(names) + (len(others) + 1 if has_ours else 0)
    lines += [header, "|" + "---|" * ncols]
    for label, key, digits, unit, hib in ROWS:
        cells = [fmt(summaries[n].get(key), digits, unit) for n in names]
        if all(c == "—" for c in cells):
            continue
        row = f"| {label} | " + " | ".join(cells)
        if "ours" in names:
            row += "".join(
                f" | {ratio(summaries['ours'].get(key), summaries[n].get(key), hib)}"
                for n in others
            )
            row += f" | {target_cell(key, summaries['ours'].get(key))}"
        lines.append(row + " |")
    loads = []
    for n in names:
        vals = [r.get("loadavg_before", [None])[0] for r in peers[n].get("runs", [])]
        vals = [f"{v:.1f}" for v in vals if v is not None]
        if vals:
            loads.append(f"{n} {'/'.join(vals)}")
    if loads:
        lines += [
            "",
            "Machine load (1-minute load average when each run of a peer started; other "
            "sessions share this machine): " + "; ".join(loads) + ".",
        ]
    lines += ["", "## Errors seen (medians per run)", ""]
    any_err = False
    for n in names:
        s = summaries[n]
        bits = []
        for c in (1, 10, 100):
            if s.get(f"http_c{c}_errors"):
                bits.append(f"HTTP c={c}: {s[f'http_c{c}_errors']:.0f} socket errors")
            if s.get(f"http_c{c}_non2xx"):
                bits.append(f"HTTP c={c}: {s[f'http_c{c}_non2xx']:.0f} non-2xx")
        for k in (1, 50):
            if s.get(f"ws{k}_failures"):
                bits.append(f"WS {k} clients: {s[f'ws{k}_failures']:.0f} failed clients")
        if peers[n].get("errors"):
            bits += peers[n]["errors"]
        if bits:
            any_err = True
            lines.append(f"- **{n}**: " + "; ".join(bits))
    if not any_err:
        lines.append("- none")
    lines += ["", "## Versions", ""]
    for n in names:
        v = peers[n].get("versions", {})
        lines.append(f"- **{n}**: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    for n, why in doc.get("not_measured", {}).items():
        lines.append(f"- **{n}**: not measured — {why}")
    lines += [
        "",
        "## How this was measured",
        "",
        "```",
        "bash bench/peers/setup_peers.sh",
        doc["command"],
        "```",
        "",
        "Raw results: `" + doc["raw_file"] + "` (each run, each workload, the exact "
        "wrk / load generator commands).",
        "",
    ]
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)


def short(wl: str, res: dict) -> dict:
    """A one-line digest of a workload result for the progress log."""
    if not isinstance(res, dict):
        return {}
    if wl == "http":
        return {k: [v.get("rps"), v.get("p50_ms"), v.get("p99_ms")] for k, v in res.items()}
    if wl == "ws":
        return {
            k: [
                v.get("msgs_per_s"),
                v.get("p50_ms"),
                v.get("p99_ms"),
                v.get("failures"),
                v.get("error", "")[:80],
            ]
            for k, v in res.items()
        }
    if wl == "broadcast":
        return {
            k: res.get(k)
            for k in ("open", "fraction_delivered_median", "time_to_all_p50_ms", "error")
        }
    if wl == "memory":
        return {
            k: res.get(k)
            for k in ("sockets_open", "kib_per_socket", "all_processes_kib_per_socket")
        }
    return {}
