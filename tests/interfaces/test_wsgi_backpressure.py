"""The WSGI interface under overload: a full http.request channel is a 503,
no worker answer is a 504, and neither leaves anything in the backend."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import requests

from ..deployment import Deployment


def test_full_channel_is_503_and_no_reply_is_504_leaving_nothing_behind(tmp_path):
    site = Deployment(tmp_path, CHANNELS_TEST_HTTP_CAPACITY="2", CHANNELS_TEST_EXPIRY="2")
    try:
        site.start_wsgi(timeout=1.5)  # and no worker at all
        slow = []

        def call():
            slow.append(requests.get(site.url("/hello/"), timeout=30))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # both requests now wait in http.request: it is full
        busy = requests.get(site.url("/hello/"), timeout=30)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        for thread in threads:
            thread.join()
        assert [r.status_code for r in slow] == [504, 504]
        assert b"No worker answered" in slow[0].content

        time.sleep(2.5)  # past EXPIRY: the unanswered requests are gone
        status = subprocess.run(
            [sys.executable, "-m", "channels.cli", "status", "--json"],
            env=site.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["channels"] == []

        # A worker arriving now serves new requests normally.
        site.start_worker()
        assert requests.get(site.url("/hello/"), timeout=30).status_code == 200
    finally:
        site.stop()
