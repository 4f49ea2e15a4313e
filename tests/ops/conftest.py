"""A shared deployment for the ops tests: one interface server and two
workers of the ops project on Redis, each serving Prometheus metrics."""

from __future__ import annotations

import pytest

from ..processes import free_port
from .harness import OpsDeployment, require_redis


@pytest.fixture(scope="package")
def deployment(tmp_path_factory):
    """runwsserver --accept-all + 2 runworker on Redis, with metrics ports."""
    require_redis()
    d = OpsDeployment(tmp_path_factory.mktemp("ops"))
    d.metrics = {}
    try:
        d.metrics["server"] = free_port()
        d.start_server("--metrics-port", str(d.metrics["server"]))
        d.metrics["workers"] = []
        for _ in range(2):
            port = free_port()
            d.start_worker("--metrics-port", str(port))
            d.metrics["workers"].append(port)
        yield d
    finally:
        d.stop()


@pytest.fixture
def ops_redis():
    """The ops tests' Redis: missing fails in CI (skips elsewhere)."""
    require_redis()
