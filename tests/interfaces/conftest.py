"""Fixtures: a running echo project on the database and the Redis backend;
the ops and limits projects for the deployment and HTTP limit tests.

A fixture that runs on Redis needs it: without it the test fails when
``CI`` is set and skips elsewhere (tests/services.py), never quietly
running on another backend."""

from __future__ import annotations

import subprocess

import pytest

from ..ops.harness import OpsDeployment
from ..ops.harness import require_redis as require_ops_redis
from ..processes import ROOT, Process, manage
from .harness import Stack, require_redis

BACKENDS = ["database", "redis"]


def make_stack(tmp_path, backend: str, **env: str) -> Stack:
    """A Stack; Redis missing fails in CI (skips elsewhere)."""
    if backend == "redis":
        require_redis()
    return Stack(tmp_path, backend, **env)


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path):
    """Echo project with one worker, on each backend in turn."""
    s = make_stack(tmp_path, request.param)
    s.start_worker()
    yield s
    s.stop()


@pytest.fixture
def fast_stack(tmp_path):
    """Echo project with one worker on Redis."""
    s = make_stack(tmp_path, "redis")
    s.start_worker()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """The ops project with one worker, on Redis."""
    require_ops_redis()
    d = OpsDeployment(tmp_path_factory.mktemp("deploy"), backend="redis")
    d.start_worker()
    yield d
    d.stop()


@pytest.fixture
def limits(tmp_path):
    """The limits project (tests/interfaces/limits.py) with one worker, on
    Redis; its record files go in ``tmp_path``. Workers give up on a full
    reply channel after 5 s (30 s in production)."""
    from .limits import limits_stack

    s = limits_stack(tmp_path, "redis", CHANNELS_TEST_REPLY_FULL_TIMEOUT="5")
    s.start_worker()
    yield s
    s.stop()


class ServerProcess(Process):
    """A runwsserver that may inherit file descriptors (``--fd``)."""

    def __init__(self, argv: list[str], env: dict, log_path, pass_fds=()) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, pass_fds=pass_fds
        )


@pytest.fixture
def start_server(ops, tmp_path):
    """Start ``runwsserver --accept-all ARGS``; stopped after the test."""
    started: list[Process] = []

    def start(*args: str, pass_fds=(), wait: bool = True) -> Process:
        argv = manage("runwsserver", "--accept-all", "-v", "1", *args)
        proc = ServerProcess(argv, ops.env, tmp_path / f"server{len(started)}.log", pass_fds)
        started.append(proc)
        if wait:
            proc.wait_for_output("Listening on")
        return proc

    yield start
    for proc in started:
        proc.stop()
