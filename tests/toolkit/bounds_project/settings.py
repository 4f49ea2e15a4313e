"""A project for the bounds tests that need real ``runwsserver`` and
``runworker`` processes: enforce_ordering under a flooding client, and where
``http_session`` takes the session key from.

Chosen by environment variables, as the echo project is (and set by
``tests.processes.ProjectProcesses``): CHANNELS_TEST_BACKEND, CHANNELS_TEST_SQLITE,
CHANNELS_TEST_REDIS + CHANNELS_TEST_PREFIX; CHANNELS_TEST_WORK is the seconds
each ordered message's consumer works (default 0.005).
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.toolkit.bounds_project.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-bounds-project.sqlite3"),
        # Several workers write their sessions to one SQLite file: wait for
        # its lock rather than fail, and write-ahead log it, as a SQLite
        # deployment would, so a commit is not an fsync of the whole journal.
        "OPTIONS": {
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": os.environ.get("CHANNELS_TEST_BACKEND", "database"),
        "ROUTING": "tests.toolkit.bounds_project.routing.channel_routing",
    }
}
if os.environ.get("CHANNELS_TEST_REDIS") and "redis" in CHANNEL_BACKENDS["default"]["BACKEND"]:
    CHANNEL_BACKENDS["default"]["HOSTS"] = [os.environ["CHANNELS_TEST_REDIS"]]
    CHANNEL_BACKENDS["default"]["PREFIX"] = os.environ.get("CHANNELS_TEST_PREFIX", "bounds:")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "WARNING"}},
}
