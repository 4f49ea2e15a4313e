"""Ops project: what ``channels status/latency/bench/flush``, the metrics
endpoints and the interface server's deployment options are tested against.

The backend comes from the environment, as in the echo project:
CHANNELS_TEST_BACKEND ("database" or "redis"), CHANNELS_TEST_SQLITE (the
database file), CHANNELS_TEST_REDIS (a redis:// URL, with a db number) and
CHANNELS_TEST_PREFIX (Redis key prefix, one per test deployment).
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
ROOT_URLCONF = "ops_project.urls"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "channels",
]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-ops-project.sqlite3"),
    }
}
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": os.environ.get("CHANNELS_TEST_BACKEND", "database"),
        "ROUTING": "ops_project.routing.channel_routing",
        # A capacity of its own, so `channels status` shows it per channel.
        "CHANNEL_CAPACITY": {"ops.unserved": 40},
    }
}
if os.environ.get("CHANNELS_TEST_HTTP_CAPACITY"):
    # Small, so a test can fill http.request and see the 503.
    CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"]["http.request"] = int(
        os.environ["CHANNELS_TEST_HTTP_CAPACITY"]
    )
# CI exports CHANNELS_TEST_REDIS for the whole suite: only a Redis backend takes it.
if os.environ.get("CHANNELS_TEST_REDIS") and "redis" in CHANNEL_BACKENDS["default"]["BACKEND"]:
    CHANNEL_BACKENDS["default"]["HOSTS"] = [os.environ["CHANNELS_TEST_REDIS"]]
    CHANNEL_BACKENDS["default"]["PREFIX"] = os.environ.get("CHANNELS_TEST_PREFIX", "ops")
