"""Echo project for the interface server tests: WebSocket echo, groups,
accept/reject, close codes, and a few HTTP views.

The backend comes from the environment so one project serves every backend:
CHANNELS_TEST_BACKEND (dotted path or short name), CHANNELS_TEST_SQLITE (the
database file), CHANNELS_TEST_REDIS (a redis:// URL) and CHANNELS_TEST_PREFIX
(Redis key prefix, so concurrent tests do not share queues).
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
ROOT_URLCONF = "echo_project.urls"
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
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-echo-project.sqlite3"),
    }
}
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": os.environ.get("CHANNELS_TEST_BACKEND", "database"),
        "ROUTING": "echo_project.routing.channel_routing",
        # Roomy enough for 1 MiB messages and the 1,000-socket test.
        "MAX_MESSAGE_SIZE": int(os.environ.get("CHANNELS_TEST_MAX_MESSAGE_SIZE", 4 * 1024 * 1024)),
        "CHANNEL_CAPACITY": {"websocket.connect": 2000, "websocket.disconnect": 2000},
    }
}
# CI exports CHANNELS_TEST_REDIS for the whole suite: only a Redis backend takes it.
if os.environ.get("CHANNELS_TEST_REDIS") and "redis" in CHANNEL_BACKENDS["default"]["BACKEND"]:
    CHANNEL_BACKENDS["default"]["HOSTS"] = [os.environ["CHANNELS_TEST_REDIS"]]
    CHANNEL_BACKENDS["default"]["PREFIX"] = os.environ.get("CHANNELS_TEST_PREFIX", "echo")
if os.environ.get("CHANNELS_TEST_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CAPACITY"] = int(os.environ["CHANNELS_TEST_CAPACITY"])
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}

# runserver tests: DEBUG with static files, or no backend at all.
if os.environ.get("CHANNELS_TEST_DEBUG"):
    DEBUG = True
    INSTALLED_APPS.append("django.contrib.staticfiles")  # after "channels": ours wins
    STATIC_URL = "/static/"
    STATICFILES_DIRS = [os.path.join(os.path.dirname(__file__), "static")]
if os.environ.get("CHANNELS_TEST_NO_BACKEND"):
    del CHANNEL_BACKENDS
