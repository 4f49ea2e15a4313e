"""The servers the suite talks to, and what happens when one is missing:
in CI (``CI`` set) a test that needs it fails loudly; elsewhere it skips
with the reason."""

from __future__ import annotations

import os

import pytest

#: The Redis the suite shares (CI exports it; tests use their own key
#: prefixes or database numbers on it).
REDIS_URL = os.environ.get("CHANNELS_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_available(url: str = REDIS_URL) -> bool:
    """Whether a Redis server answers at ``url``."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


def require_redis(url: str = REDIS_URL) -> None:
    """Fail (in CI) or skip (elsewhere) unless Redis answers at ``url``."""
    if redis_available(url):
        return
    message = f"no Redis server answers at {url}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)
