"""A tiny project whose worker answers pings over the Redis backend, for
the Redis fault tests. REDIS_PROJECT_HOSTS (comma-separated redis:// URLs:
the servers those tests start and kill) and REDIS_PROJECT_PREFIX choose the
servers and key prefix."""

import os

from tests.projects.base_settings import *  # noqa: F403

INSTALLED_APPS = ["channels"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("REDIS_PROJECT_SQLITE", "/tmp/channels-redis-project.sqlite3"),
    }
}
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": "channels.backends.redis.RedisChannelBackend",
        "ROUTING": "redis_project.routing.channel_routing",
        "HOSTS": os.environ.get("REDIS_PROJECT_HOSTS", "redis://127.0.0.1:6379/0").split(","),
        "PREFIX": os.environ.get("REDIS_PROJECT_PREFIX", "redis-project:"),
    }
}
