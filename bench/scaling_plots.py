"""Medians and PNG plots of a ``bench/scaling.py`` raw result.

Kept apart from the measuring script so that plots can be made again from
a saved JSON file (``python bench/scaling.py --plot FILE``) and read on
their own. Matplotlib (``pip install -e ".[bench]"``) is imported only when
plotting.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

#: The server processes whose CPU each echo result reports.
ROLES = ("interface", "worker", "redis")


def echo_points(doc: dict, key: Callable[[dict], tuple]) -> dict[tuple, dict]:
    """Echo results grouped by ``key(result)`` over runs: median msgs/s and
    median CPU/msg per role (errors left out)."""
    groups: dict[tuple, list[dict]] = {}
    for run in doc["runs"]:
        for res in run.get("echo", []):
            if "error" not in res:
                groups.setdefault(key(res), []).append(res)
    out = {}
    for k, rs in groups.items():
        point = {"runs": len(rs), "msgs_per_s": statistics.median(r["msgs_per_s"] for r in rs)}
        for role in (*ROLES, "total"):
            point[role] = statistics.median(r["cpu_us"][role] for r in rs)
        out[k] = point
    return out


def summarize(doc: dict) -> dict:
    """The medians the plots and the docs quote."""
    workers = echo_points(doc, lambda r: (r["interfaces"], r["workers"], r["size"]))
    brd: dict[int, list[dict]] = {}
    for run in doc["runs"]:
        for res in run.get("broadcast", []):
            if res.get("all_ms_median") is not None:
                brd.setdefault(res["members"], []).append(res)
    broadcast = {
        n: {
            "runs": len(rs),
            "all_ms": statistics.median(r["all_ms_median"] for r in rs),
            "first_ms": statistics.median(r["first_ms_median"] for r in rs),
            **{
                f"cpu_us_per_member_{role}": statistics.median(
                    r["cpu_us_per_member"][role] for r in rs
                )
                for role in (*ROLES, "total")
            },
        }
        for n, rs in sorted(brd.items())
    }
    mem: dict[int, list[int]] = {}
    for run in doc["runs"]:
        for p in run.get("memory", []):
            mem.setdefault(p["step"], []).append(p["rss_kib"])
    return {
        "echo": {f"i{i}-w{w}-{s}B": v for (i, w, s), v in sorted(workers.items())},
        "broadcast": broadcast,
        "memory_rss_mib": {
            n: round(statistics.median(v) / 1024, 1) for n, v in sorted(mem.items())
        },
    }


def plot(doc: dict, out_dir: Path) -> list[Path]:
    """The four PNGs (those with data) from a raw result; their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stamp = f"{doc['date'][:16]} · {doc['ours_commit']} · medians of {doc['runs_asked']} runs"
    made = []

    def save(fig, name: str) -> None:
        fig.text(0.99, 0.01, stamp, ha="right", va="bottom", fontsize=7, color="0.4")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        path = out_dir / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)

    pts = echo_points(doc, lambda r: (r["interfaces"], r["workers"], r["size"]))
    by_workers = {k: v for k, v in pts.items() if k[2] == 32}
    if len(by_workers) > 1:
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
        for iface, style in ((1, "-"), (2, "--"), (3, ":")):
            xs = sorted(w for i, w, _ in by_workers if i == iface)
            if not xs:
                continue
            ys = [by_workers[(iface, w, 32)] for w in xs]
            a.plot(
                xs,
                [y["msgs_per_s"] for y in ys],
                "o" + style,
                label=f"{iface} interface{'s' if iface > 1 else ''}",
            )
            for role, color in zip((*ROLES, "total"), ("C0", "C1", "C2", "k"), strict=True):
                b.plot(
                    xs,
                    [y[role] for y in ys],
                    "o" + style,
                    color=color,
                    label=f"{role}, {iface} iface",
                )
        a.set(
            xlabel="workers", ylabel="echoes/s", title="WS echo, 50 sockets, 32 B", xticks=[1, 2, 4]
        )
        b.set(
            xlabel="workers",
            ylabel="CPU µs per echo",
            title="CPU per echo, by process kind",
            xticks=[1, 2, 4],
        )
        a.set_ylim(bottom=0)
        # room above the lines for the legend
        b.set_ylim(0, b.get_ylim()[1] * 1.5)
        a.legend(fontsize=8, loc="lower right")
        b.legend(fontsize=7, ncol=2, loc="upper center")
        save(fig, "scaling-workers.png")
    by_size = {k[2]: v for k, v in pts.items() if k[:2] == (1, 1)}
    if len(by_size) > 1:
        xs = sorted(by_size)
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
        a.plot(xs, [by_size[s]["msgs_per_s"] for s in xs], "o-")
        for role, color in zip((*ROLES, "total"), ("C0", "C1", "C2", "k"), strict=True):
            b.plot(xs, [by_size[s][role] for s in xs], "o-", color=color, label=role)
        for ax in (a, b):
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [f"{s} B" if s < 1024 else f"{s // 1024} KiB" for s in xs])
            ax.set_ylim(bottom=0)
        a.set(xlabel="message size", ylabel="echoes/s", title="WS echo, 1 interface + 1 worker")
        b.set(
            xlabel="message size", ylabel="CPU µs per echo", title="CPU per echo, by process kind"
        )
        b.legend(fontsize=8)
        save(fig, "scaling-size.png")
    summary = summarize(doc)
    if summary["broadcast"]:
        brd = summary["broadcast"]
        xs = sorted(brd)
        fig, a = plt.subplots(figsize=(5.5, 3.8))
        a.plot(xs, [brd[n]["all_ms"] for n in xs], "o-", label="every member has it")
        a.plot(xs, [brd[n]["first_ms"] for n in xs], "o--", label="the first has it")
        for n in xs:
            a.annotate(
                f"{brd[n]['all_ms']:.0f} ms",
                (n, brd[n]["all_ms"]),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
            )
        a.legend(fontsize=8)
        a.set(
            xscale="log",
            yscale="log",
            xlabel="group members (open sockets)",
            ylabel="ms after the send",
            title=f"Broadcast over {doc['args']['broadcast_interfaces']} interface processes",
        )
        save(fig, "scaling-broadcast.png")
    if summary["memory_rss_mib"]:
        mem = summary["memory_rss_mib"]
        xs = sorted(mem)
        fig, a = plt.subplots(figsize=(5.5, 3.8))
        a.plot(xs, [mem[n] for n in xs], "o-")
        a.set(
            xlabel="open idle WebSockets",
            ylabel="interface RSS (MiB)",
            title="One interface process: memory against open sockets",
        )
        a.set_ylim(bottom=0)
        if xs[-1] > xs[0]:
            slope = (mem[xs[-1]] - mem[xs[0]]) * 1024 / (xs[-1] - xs[0])
            a.text(0.05, 0.9, f"{slope:.1f} KiB per socket", transform=a.transAxes)
        save(fig, "scaling-memory.png")
    return made
