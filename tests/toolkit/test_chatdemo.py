"""The chat demo: its routing is valid, its pages work, and its class-based
room consumer does login, rooms and origin checks."""

import json
import os
import subprocess
import sys

from tests.processes import ROOT

DEMO = ROOT / "examples" / "chatdemo"


def test_chat_demo(tmp_path):
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="chatdemo.settings",
        CHANNELS_DEMO_DB=str(tmp_path / "demo.sqlite3"),
        PYTHONPATH=os.pathsep.join([str(DEMO), str(ROOT)]),
    )
    run = {"env": env, "cwd": DEMO, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], check=True, **run)
    checked = subprocess.run([sys.executable, "manage.py", "check"], **run)
    assert checked.returncode == 0, checked.stderr
    done = subprocess.run([sys.executable, "-m", "tests.toolkit.chatdemo_check.run"], **run)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["index"] == 302  # to the login page
    assert result["login"] == [200, True]
    joined = {"name": "demo-user", "joined": True}
    said = {"name": "demo-user", "message": "hi"}
    assert result["alice"] == [joined, joined, said]
    assert result["bob"] == [joined, said]
    assert result["anonymous"] == {"close": 4001}
    assert result["foreign"] == {"close": True}
