"""``ChannelLiveServerTestCase``: a real interface server and workers for browser tests.

As in Channels 1.x, each test gets an interface server and a worker running
the project against the test database and the default channel backend, so
Selenium (or any HTTP/WebSocket client) can drive the site::

    class ChatTests(ChannelLiveServerTestCase):
        def test_page(self):
            driver.get(self.live_server_url + "/chat/")
            ...   # the page's WebSocket goes to self.live_server_ws_url

They run as child processes (``runwsserver --accept-all`` and ``runworker``)
with this process's settings, overrides and test database names; they need
a backend shared between processes (database or Redis, not memory) and a
database that is not SQLite in memory. A backend entry's ``TEST`` options
(or a 1.x layer's ``TEST_CONFIG``) are used instead of its normal ones, so
tests do not share a backend with a development server. The backend is
flushed before each test.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import Settings, UserSettingsHolder, global_settings, settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import TransactionTestCase

from ..backends.legacy import map_layer
from ..backends.memory import InMemoryChannelBackend
from ..backends.registry import (
    DEFAULT_CHANNEL_BACKEND,
    backend_class,
    build_backend,
    channel_backends,
)
from .live_process import LIVE_ROUTING, PROJECT_ROUTING

_MISSING = object()


def live_backend_entries() -> dict[str, dict[str, Any]]:
    """The backends in ``CHANNEL_BACKENDS`` form, with their test options applied."""
    configured = getattr(settings, "CHANNEL_BACKENDS", None)
    if configured is not None:
        entries = {}
        for alias, entry in configured.items():
            entry = dict(entry)
            entry.update(entry.pop("TEST", None) or {})
            entries[alias] = entry
        return entries
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    dropped: list[str] = []
    entries = {}
    for alias, layer in layers.items():
        layer = dict(layer)
        if "TEST_CONFIG" in layer:
            layer["CONFIG"] = layer.pop("TEST_CONFIG")
        entries[alias] = map_layer(alias, layer, dropped)
    return entries


def settings_module() -> str | None:
    """The settings module under any ``override_settings`` (None if configured by hand)."""
    wrapped = settings._wrapped
    while isinstance(wrapped, UserSettingsHolder):
        wrapped = wrapped.default_settings
    return wrapped.SETTINGS_MODULE if isinstance(wrapped, Settings) else None


def settings_for_children(module: str | None) -> dict[str, Any]:
    """Every setting whose value here differs from what ``module`` alone gives."""
    base = Settings(module) if module else global_settings
    changed = {}
    for name in dir(settings):
        if not name.isupper():
            continue
        value = getattr(settings, name)
        original = getattr(base, name, _MISSING)
        try:
            same = original is value or original == value
        except Exception:  # noqa: BLE001 - an odd __eq__ counts as changed
            same = False
        if not same:
            changed[name] = value
    # The test databases (their names changed in place, so compare nothing).
    changed["DATABASES"] = {alias: dict(connections[alias].settings_dict) for alias in connections}
    return changed


class LiveServer:
    """``runwsserver`` and ``runworker`` of this project, as child processes."""

    def __init__(self, host: str, workers: int, serve_static: bool, timeout: float) -> None:
        self.host = host
        self.bind = "127.0.0.1" if host == "localhost" else host
        self.workers = workers
        self.timeout = timeout
        self.alias = DEFAULT_CHANNEL_BACKEND
        entries = live_backend_entries()
        if self.alias not in entries:
            raise ImproperlyConfigured(
                "ChannelLiveServerTestCase needs a default channel backend (CHANNEL_BACKENDS)"
            )
        self.entry = entries[self.alias]
        if issubclass(backend_class(self.entry["BACKEND"]), InMemoryChannelBackend):
            raise ImproperlyConfigured(
                "ChannelLiveServerTestCase runs the server and workers in processes of their "
                "own: use the database or Redis backend (a TEST entry can choose one for tests), "
                "not the memory backend"
            )
        for alias in connections:
            conn = connections[alias]
            if conn.vendor == "sqlite" and conn.is_in_memory_db():
                raise ImproperlyConfigured(
                    "ChannelLiveServerTestCase cannot share an in-memory SQLite database with "
                    f"its processes: give DATABASES[{alias!r}] a TEST NAME that is a file"
                )
        self.children = self._children_settings(entries, serve_static)
        self.port = _free_port(self.bind)
        self.tmp = Path(tempfile.mkdtemp(prefix="channels-live-"))
        self.config = self.tmp / "settings.pickle"
        self.server: _Child | None = None
        self.worker_processes: list[_Child] = []

    def _children_settings(self, entries: dict, serve_static: bool) -> dict[str, Any]:
        module = settings_module()
        changed = settings_for_children(module)
        entries = {alias: dict(entry) for alias, entry in entries.items()}
        if serve_static and "ROUTING" in entries[self.alias]:
            changed[PROJECT_ROUTING] = entries[self.alias]["ROUTING"]
            entries[self.alias]["ROUTING"] = LIVE_ROUTING
        changed["CHANNEL_BACKENDS"] = entries
        changed.pop("CHANNEL_LAYERS", None)
        changed["ALLOWED_HOSTS"] = [*settings.ALLOWED_HOSTS, self.host]
        for name, value in changed.items():
            try:
                pickle.dumps(value)
            except Exception as exc:  # noqa: BLE001 - any pickling failure
                raise ImproperlyConfigured(
                    f"ChannelLiveServerTestCase cannot hand setting {name} to its processes "
                    f"({exc}); use values that can be pickled (e.g. a dotted ROUTING path)"
                ) from exc
        return {"settings_module": module, "settings": changed}

    def backend(self):
        """The backend the children use, built here (for the flush and for the test)."""
        return build_backend(self.alias, self.entry)

    def start(self) -> None:
        """Start the interface server and the workers; wait until they serve."""
        with open(self.config, "wb") as config_file:
            pickle.dump(self.children, config_file)
        self.start_server()
        for number in range(self.workers):
            worker = self._spawn(f"worker{number}", "runworker", "-v", "1")
            self.worker_processes.append(worker)
            worker.wait_for("serving", self.timeout)

    def start_server(self) -> None:
        """Start the interface server on this test's port."""
        self.server = self._spawn(
            "server", "runwsserver", "--accept-all", "-v", "1", f"{self.bind}:{self.port}"
        )
        self.server.wait_for("Listening on", self.timeout)

    def stop_server(self) -> None:
        """Stop the interface server (its clients see their sockets close)."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def stop(self) -> None:
        """Stop every child and remove the hand-over files."""
        self.stop_server()
        for worker in self.worker_processes:
            worker.stop()
        self.worker_processes = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self) -> str:
        """The output of every child started, for failure messages."""
        children = [c for c in [self.server, *self.worker_processes] if c is not None]
        return "\n".join(child.output() for child in children)

    def _spawn(self, name: str, *command: str) -> _Child:
        argv = [sys.executable, "-m", "channels.test.live_process", str(self.config), *command]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        env["PYTHONUNBUFFERED"] = "1"
        return _Child(argv, env, self.tmp / f"{name}.log")


class _Child:
    """One child process, its output kept in a file."""

    def __init__(self, argv: list[str], env: dict, log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        """What the process printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until ``text`` is printed; fail with the output if the process dies."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{' '.join(self.argv[3:])} did not start (waited for {text!r}):\n"
                    f"{self.output()[-4000:]}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class ChannelLiveServerTestCase(TransactionTestCase):
    """``TransactionTestCase`` plus a live interface server and worker (Channels 1.x).

    ``live_server_url`` (``http://localhost:PORT``) and ``live_server_ws_url``
    (``ws://localhost:PORT``) reach them. Class attributes: ``host``
    ("localhost"), ``worker_threads`` (worker processes to start, 1),
    ``serve_static`` (workers serve ``STATIC_URL`` from the staticfiles
    finders, True) and ``live_server_timeout`` (seconds each process may take
    to start, 60). :meth:`restart_interface_server` stops the interface
    server and starts it again on the same port (for reconnection tests).
    """

    host = "localhost"
    worker_threads = 1
    serve_static = True
    live_server_timeout = 60.0

    @property
    def live_server_url(self) -> str:
        """``http://host:port`` of the interface server."""
        return f"http://{self.host}:{self._live_server.port}"

    @property
    def live_server_ws_url(self) -> str:
        """``ws://host:port`` of the interface server."""
        return f"ws://{self.host}:{self._live_server.port}"

    # A classmethod, as Django's since 5.2 (run from setUpClass for the first
    # test of a class); each test still gets processes of its own.
    @classmethod
    def _pre_setup(cls) -> None:
        live = LiveServer(cls.host, cls.worker_threads, cls.serve_static, cls.live_server_timeout)
        backend = live.backend()
        if "flush" in backend.extensions:
            backend.flush()
        # Code in the test sends on the backend the processes use.
        channel_backends.set(live.alias, backend)
        cls._live_server = live
        super()._pre_setup()
        try:
            live.start()
        except BaseException:
            live.stop()
            channel_backends.reset()
            raise

    def _post_teardown(self) -> None:
        try:
            self._live_server.stop()
        finally:
            channel_backends.reset()
            super()._post_teardown()

    def restart_interface_server(self, down_for: float = 0.0) -> None:
        """Stop the interface server, wait ``down_for`` seconds, start it again."""
        self._live_server.stop_server()
        time.sleep(down_for)
        self._live_server.start_server()
