"""The chat demo under a real supervisord, run with supervisord.conf.example
as it is (its %(ENV_X)s expansions point it at the demo): pages and chat
work, restarting the workers (all at once, then one at a time, as the file's
comments tell operators) keeps WebSockets open and loses no chat line, and
supervisorctl shuts everything down cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from websockets.asyncio.client import connect

from tests.processes import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.timeout(240)

DEMO = ROOT / "examples" / "chatdemo"
EXAMPLE = ROOT / "supervisord.conf.example"
BIN = Path(sys.executable).parent
STATUS_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(?:pid (\d+))?", re.M)


class Supervisor:
    """supervisord -n with the example configuration, and supervisorctl."""

    def __init__(self, tmp: Path) -> None:
        if not (BIN / "supervisord").exists():
            pytest.fail("supervisord is not installed: pip install supervisor (the test extra)")
        # A short directory: it holds the control socket (108-byte path limit).
        self.var = Path(tempfile.mkdtemp(prefix="channels-sv-"))
        self.port = free_port()
        #: Every process supervisord was seen running.
        self.pids_seen: set[int] = set()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CHANNELS_", "DJANGO_"))
        }
        self.env.update(
            CHANNELS_PYTHON=sys.executable,
            CHANNELS_PROJECT=str(DEMO),
            CHANNELS_LISTEN=f"127.0.0.1:{self.port}",
            CHANNELS_VAR=str(self.var),
            CHANNELS_DEMO_DB=str(tmp / "demo.sqlite3"),
            DJANGO_SETTINGS_MODULE="chatdemo.settings",
            PYTHONUNBUFFERED="1",
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=DEMO, env=self.env, check=True, timeout=120,
        )  # fmt: skip
        self.log = open(tmp / "supervisord.out", "wb")  # noqa: SIM115 - closed in cleanup
        self.process = subprocess.Popen(
            [str(BIN / "supervisord"), "-n", "-c", str(EXAMPLE)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp,
        )  # fmt: skip

    def ctl(self, *args: str, timeout: float = 90) -> str:
        done = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(EXAMPLE), *args],
            env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        return done.stdout + done.stderr

    def status(self) -> dict[str, tuple[str, int | None]]:
        """name -> (state, pid) of every process."""
        return {
            name: (state, int(pid) if pid else None)
            for name, state, pid in STATUS_LINE.findall(self.ctl("status"))
        }

    def wait_running(self, count: int, timeout: float = 60) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.logs()
            status = self.status()
            if len(status) == count and all(s == "RUNNING" for s, _ in status.values()):
                pids = {name: pid for name, (_, pid) in status.items()}
                self.pids_seen |= set(pids.values())
                return pids
            time.sleep(0.2)
        raise AssertionError(f"not all RUNNING after {timeout}s: {self.status()}\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for path in sorted(self.var.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()
        shutil.rmtree(self.var, ignore_errors=True)


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def sign_up(base: str, username: str) -> requests.Session:
    """A session logged in as a new user, through the demo's signup form."""
    session = requests.Session()
    page = session.get(f"{base}/accounts/signup/", timeout=30)
    assert page.status_code == 200
    password = "a-long-demo-password-" + username
    done = session.post(
        f"{base}/accounts/signup/",
        data={
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "username": username,
            "password1": password,
            "password2": password,
        },
        timeout=30,
    )
    assert done.status_code == 200 and done.url == f"{base}/", (done.status_code, done.url)
    return session


async def next_line(ws, timeout: float = 30) -> dict:
    """The next chat line (join notices skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if "message" in event:
                return event


def test_chat_demo_under_supervisord(tmp_path):
    sv = Supervisor(tmp_path)
    try:
        scenario(sv)
    except BaseException:
        print(sv.logs())
        raise
    finally:
        sv.cleanup()


def scenario(sv: Supervisor) -> None:
    wait_for_port(sv.port, timeout=60)
    pids = sv.wait_running(6)
    assert sorted(pids) == [
        "interface:interface-0",
        "interface:interface-1",
        *(f"workers:workers-{n}" for n in range(4)),
    ]
    base = f"http://127.0.0.1:{sv.port}"
    assert requests.get(f"{base}/accounts/login/", timeout=30).status_code == 200
    alice, bob = sign_up(base, "alice"), sign_up(base, "bob")
    index = alice.get(f"{base}/", timeout=30)
    assert index.status_code == 200
    asyncio.run(chat(sv, base, alice, bob, pids))
    assert bob.get(f"{base}/", timeout=30).status_code == 200

    # A clean shutdown: supervisord stops every process and exits 0.
    assert "Shut down" in sv.ctl("shutdown")
    assert sv.process.wait(60) == 0
    still = [pid for pid in sv.pids_seen if running(pid)]
    assert not still, f"processes left running: {still}"
    out = sv.logs()
    assert "Traceback" not in out, out


async def chat(sv: Supervisor, base: str, alice, bob, pids: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{sv.port}/chat/lobby/"

    async def join(session: requests.Session):
        return await connect(
            url,
            origin=base,
            additional_headers={"Cookie": f"sessionid={session.cookies['sessionid']}"},
            open_timeout=30,
            ping_interval=None,
        )

    ws_alice, ws_bob = await join(alice), await join(bob)
    sent: list[str] = []

    async def say(text: str) -> None:
        sent.append(text)
        await ws_alice.send(json.dumps({"message": text}))

    await say("before")
    assert await next_line(ws_bob) == {"name": "alice", "message": "before"}
    assert await next_line(ws_alice) == {"name": "alice", "message": "before"}

    # All workers at once ("restart 'workers:*'"), chatting all the while:
    # lines said while no worker runs wait for the new ones.
    seen = set(pids.values())
    restart = asyncio.create_task(asyncio.to_thread(sv.ctl, "restart", "workers:*"))
    n = 0
    while not restart.done():
        n += 1
        await say(f"during-all-{n}")
        await asyncio.sleep(0.2)
    output = await restart
    assert output.count("stopped") == 4 and output.count("started") == 4, output
    after = sv.wait_running(6)
    workers = {name: pid for name, pid in after.items() if name.startswith("workers:")}
    assert not set(workers.values()) & seen, "the workers did not restart"
    assert {name: after[name] for name in after if name.startswith("interface:")} == {
        name: pids[name] for name in pids if name.startswith("interface:")
    }
    seen |= set(after.values())

    # One at a time, as the example's comments suggest for flat latency.
    for name in sorted(workers):
        restart = asyncio.create_task(asyncio.to_thread(sv.ctl, "restart", name))
        n = 0
        while not restart.done():
            n += 1
            await say(f"during-{name}-{n}")
            await asyncio.sleep(0.2)
        output = await restart
        assert f"{name}: started" in output, output
    after = sv.wait_running(6)
    assert not {p for k, p in after.items() if k.startswith("workers:")} & seen

    await say("after")
    # Both sockets survived, and every line came through once, in order.
    for ws in (ws_bob, ws_alice):
        lines = [await next_line(ws) for _ in sent[1:]]
        assert [line["message"] for line in lines] == sent[1:]
        assert {line["name"] for line in lines} == {"alice"}
        with pytest.raises(TimeoutError):
            await next_line(ws, timeout=1)
        assert ws.close_code is None
    await ws_alice.close()
    await ws_bob.close()
