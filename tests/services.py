"""The servers the suite talks to, and what happens when one is missing.

A test that needs Redis fails loudly when Redis does not answer and either
``CI`` is set or CHANNELS_TEST_REDIS names the server (``.ci/run`` always
exports it, so ``bash .ci/run`` on a developer's machine fails exactly as CI
does). Only a plain ``pytest`` run that named no Redis skips such a test,
with the reason. No test swaps in another backend when Redis is missing.
"""

from __future__ import annotations

import os

import pytest

#: The one Redis URL of the suite: the probe below and every harness and
#: test project that runs on Redis read it (tests use their own key prefixes
#: on it; tests that kill Redis start their own, tests/backends/redis_servers.py).
REDIS_URL = os.environ.get("CHANNELS_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_available(url: str = REDIS_URL) -> bool:
    """Whether a Redis server answers at ``url``."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


def services_required() -> bool:
    """Whether a missing server must fail the test rather than skip it: in
    CI, and whenever the environment names the server (as ``.ci/run`` does)."""
    return bool(os.environ.get("CI") or os.environ.get("CHANNELS_TEST_REDIS"))


def require_redis(url: str = REDIS_URL) -> None:
    """Fail (in CI, or when CHANNELS_TEST_REDIS names it) or skip (a plain
    local run) unless Redis answers at ``url``."""
    if redis_available(url):
        return
    message = f"no Redis server answers at {url}"
    if services_required():
        pytest.fail(f"{message}; the test needs it (CI or CHANNELS_TEST_REDIS set)")
    pytest.skip(message)
