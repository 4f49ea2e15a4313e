"""A shared deployment for the ops tests: one interface server and two
workers of the ops project on Redis, each serving Prometheus metrics."""

from __future__ import annotations

import pytest

from ..processes import free_port
from .harness import OpsDeployment, redis_available


@pytest.fixture(scope="package")
def deployment(tmp_path_factory):
    """runwsserver --accept-all + 2 runworker on Redis, with metrics ports."""
    if not redis_available():
        pytest.skip("no Redis server for the ops tests")
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
