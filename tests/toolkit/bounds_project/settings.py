"""A project for the bounds tests that need real ``runwsserver`` and
``runworker`` processes: enforce_ordering under a flooding client, and where
``http_session`` takes the session key from.

The backend as in every test project (tests/projects/base_settings.py, set
by ``tests.processes.ProjectProcesses``); CHANNELS_TEST_WORK is the seconds
each ordered message's consumer works (default 0.005).
"""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import INSTALLED_APPS, channel_backend

ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.toolkit.bounds_project.urls"
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions"]
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
    "default": channel_backend("tests.toolkit.bounds_project.routing.channel_routing", "bounds:")
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "WARNING"}},
}
