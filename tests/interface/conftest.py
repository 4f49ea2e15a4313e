"""Fixtures: a running echo project on the database and the Redis backend."""

from __future__ import annotations

import pytest

from .harness import Stack, redis_available, require_redis

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
    """Echo project with one worker on Redis (database if Redis is absent)."""
    s = make_stack(tmp_path, "redis" if redis_available() else "database")
    s.start_worker()
    yield s
    s.stop()
