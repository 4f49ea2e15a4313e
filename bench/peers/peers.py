"""The peers measured by run.py: where each one's venv and project live and
the processes it runs (``Peer``), and which package versions it has."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROJECTS = HERE / "projects"
VENVS = Path(os.environ.get("BENCH_PEERS_ROOT", "/tmp/bench-peers"))
LOGS = VENVS / "logs"
HOST = "127.0.0.1"

ALL_PEERS = [
    "ours",
    "ours-baseline",
    "ours-sqlite",
    "ours-postgres",
    "channels4",
    "channels1",
    "channels1sync",
    "uvicorn",
]
HTTP_ONLY = {"uvicorn"}


@dataclass
class Peer:
    """One peer: its interpreter, project directory and server processes."""

    name: str
    title: str
    python: Path
    cwd: Path
    # (label, argv, is_interface): the interface process(es) are the ones
    # whose RSS the memory workload reads.
    procs: list[tuple[str, list[str], bool]]
    redis_db: int | None
    packages: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    # commands run (in cwd, with env) before each start: fresh tables
    setup: list[list[str]] = field(default_factory=list)


def build_peers(args) -> dict[str, Peer]:
    """Every peer of ``ALL_PEERS``, on ports from ``--base-port`` up."""
    ours_py = Path(args.ours_python)
    redis_url = f"redis://{HOST}:{args.redis_port}"
    port = args.base_port

    def venv(name: str) -> Path:
        return VENVS / name / "bin" / "python"

    def bin_(name: str, tool: str) -> str:
        return str(VENVS / name / "bin" / tool)

    def channels1_peer(name: str, title: str, peer_port: int, db: int, flags: list) -> Peer:
        # The two Channels 1.x peers differ only in Daphne's reader.
        daphne = [
            bin_("channels1", "daphne"), "-b", HOST, "-p", str(peer_port),
            "--ping-interval", "3600", "-v", "0", *flags, "c1proj.asgi:channel_layer",
        ]  # fmt: skip
        workers = [
            (f"runworker{i}", [str(venv("channels1")), "manage.py", "runworker"], False)
            for i in range(args.workers)
        ]
        return Peer(
            name=name,
            title=title,
            python=venv("channels1"),
            cwd=PROJECTS / "channels1",
            procs=[("daphne", daphne, True), *workers],
            redis_db=db,
            packages=[
                "channels",
                "daphne",
                "asgi_redis",
                "asgiref",
                "Django",
                "Twisted",
                "autobahn",
                "redis",
                "txredisapi",
                "msgpack-python",
            ],  # fmt: skip
            port=peer_port,
            env={
                "BENCH_REDIS_URL": f"{redis_url}/{db}",
                "DJANGO_SETTINGS_MODULE": "c1proj.settings",
            },
        )

    peers = {
        "ours": Peer(
            name="ours",
            title="ours (runwsserver + runworker, Redis)",
            python=ours_py,
            cwd=PROJECTS / "ours",
            procs=[
                (
                    "runwsserver",
                    [
                        str(ours_py),
                        "manage.py",
                        "runwsserver",
                        "--accept-all",
                        "--no-compression",
                        "--ping-interval",
                        "0",
                        f"{HOST}:{port}",
                    ],
                    True,
                ),
                *[
                    (f"runworker{i}", [str(ours_py), "manage.py", "runworker"], False)
                    for i in range(args.workers)
                ],
            ],
            redis_db=13,
            packages=["channels", "Django", "Twisted", "autobahn", "redis", "msgpack"],
            port=port,
            env={"BENCH_REDIS_URL": f"{redis_url}/13"},
        ),
        "channels4": Peer(
            name="channels4",
            title="Channels 4 + Daphne + channels_redis",
            python=venv("channels4"),
            cwd=PROJECTS / "channels4",
            procs=[
                (
                    "daphne",
                    [
                        bin_("channels4", "daphne"),
                        "-b",
                        HOST,
                        "-p",
                        str(port + 1),
                        "--ping-interval",
                        "3600",
                        "-v",
                        "0",
                        "c4proj.asgi:application",
                    ],
                    True,
                )
            ],
            redis_db=11,
            packages=[
                "channels",
                "daphne",
                "channels_redis",
                "Django",
                "Twisted",
                "autobahn",
                "redis",
                "msgpack",
            ],
            port=port + 1,
            env={"BENCH_REDIS_URL": f"{redis_url}/11", "DJANGO_SETTINGS_MODULE": "c4proj.settings"},
        ),
        "channels1": channels1_peer(
            "channels1",
            "Channels 1.x + Daphne 1.x + asgi_redis (txredisapi reader)",
            port + 2,
            12,
            [],
        ),
        "channels1sync": channels1_peer(
            "channels1sync",
            "Channels 1.x, daphne --force-sync (polling reader, as without txredisapi)",
            port + 4,
            14,
            ["--force-sync"],
        ),
        "uvicorn": Peer(
            name="uvicorn",
            title="uvicorn + plain Django (HTTP ceiling)",
            python=venv("uvicorn"),
            cwd=PROJECTS / "uvicorn",
            procs=[
                (
                    "uvicorn",
                    [
                        bin_("uvicorn", "uvicorn"),
                        "--host",
                        HOST,
                        "--port",
                        str(port + 3),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                        "uvproj.asgi:application",
                    ],
                    True,
                )
            ],
            redis_db=None,
            packages=["uvicorn", "uvloop", "httptools", "Django"],
            port=port + 3,
            env={"DJANGO_SETTINGS_MODULE": "uvproj.settings"},
        ),
    }
    peers["ours-baseline"] = baseline_peer(peers["ours"], port + 7, args)
    peers["ours-sqlite"] = database_peer(peers["ours"], "sqlite", port + 5, args)
    peers["ours-postgres"] = database_peer(peers["ours"], "postgres", port + 6, args)
    return peers


def baseline_peer(ours: Peer, peer_port: int, args) -> Peer:
    """``ours`` run by ``--baseline-python`` (an interpreter seeing an older
    checkout), so a change is measured against what it replaced in one sitting."""
    py = args.baseline_python or str(ours.python)
    procs = []
    for label, argv, iface in ours.procs:
        argv = [py, *argv[1:]]
        if iface:
            argv[-1] = f"{HOST}:{peer_port}"
        procs.append((label, argv, iface))
    return Peer(
        name="ours-baseline",
        title="ours, baseline checkout (--baseline-python)",
        python=Path(py),
        cwd=ours.cwd,
        procs=procs,
        redis_db=15,
        packages=ours.packages,
        port=peer_port,
        env={**ours.env, "BENCH_REDIS_URL": ours.env["BENCH_REDIS_URL"].rsplit("/", 1)[0] + "/15"},
    )


def database_peer(ours: Peer, vendor: str, peer_port: int, args) -> Peer:
    """``ours`` on the database backend (one worker): SQLite file or a
    PostgreSQL schema of its own, made afresh before every start."""
    py = str(ours.python)
    procs = []
    for label, argv, iface in ours.procs:
        argv = list(argv)
        if iface:
            argv[-1] = f"{HOST}:{peer_port}"
        procs.append((label, argv, iface))
    migrate = [py, "manage.py", "migrate", "channels", "-v", "0"]
    if vendor == "sqlite":
        path = VENVS / "ours-bench.sqlite3"
        env = {"BENCH_BACKEND": "sqlite", "BENCH_SQLITE_PATH": str(path)}
        fresh = [py, "-c", f"import pathlib; [pathlib.Path('{path}' + s).unlink(missing_ok=True) "
                 "for s in ('', '-wal', '-shm', '-journal')]"]  # fmt: skip
        packages = ["channels", "Django", "Twisted", "autobahn", "msgpack"]
    else:
        parts = urllib.parse.urlsplit(args.postgres)
        schema = "bench_peers_ours"
        env = {
            "BENCH_BACKEND": "postgres",
            "BENCH_PG_NAME": parts.path.strip("/") or "test",
            "BENCH_PG_USER": parts.username or "postgres",
            "BENCH_PG_HOST": parts.hostname or HOST,
            "BENCH_PG_PORT": str(parts.port or 5432),
            "BENCH_PG_SCHEMA": schema,
        }
        # Our own schema only: dropped and made again, never anything else.
        fresh = [py, "-c", "import psycopg, sys; "
                 "c = psycopg.connect(sys.argv[1], autocommit=True); "
                 f"c.execute('DROP SCHEMA IF EXISTS {schema} CASCADE'); "
                 f"c.execute('CREATE SCHEMA {schema}')", args.postgres]  # fmt: skip
        packages = ["channels", "Django", "Twisted", "autobahn", "msgpack", "psycopg"]
    return Peer(
        name=f"ours-{vendor}",
        title=f"ours on the database backend ({'SQLite' if vendor == 'sqlite' else 'PostgreSQL'})",
        python=ours.python,
        cwd=ours.cwd,
        procs=procs,
        redis_db=None,
        packages=packages,
        port=peer_port,
        env=env,
        setup=[fresh, migrate],
    )


def versions(peer: Peer) -> dict[str, str]:
    """The Python and package versions installed in ``peer``'s venv."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for p in {peer.packages!r}:\n"
        "    try:\n        out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError:\n        pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        out = subprocess.run(
            # not from the repository root, whose channels.egg-info would answer
            # for every venv's "channels"
            [str(peer.python), "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd="/",
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        ).stdout
        return json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": str(exc)[:200]}
