"""The settings every test project starts from.

Each project's ``settings.py`` does ``from tests.projects.base_settings import *``
and then sets what is its own (``ROOT_URLCONF``, apps, its channel backend),
rebinding lists and dicts rather than changing them in place.

Environment, set by the harnesses (``tests/processes.py``):

- ``CHANNELS_TEST_SQLITE``: the project's SQLite file;
- ``CHANNELS_TEST_BACKEND``: ``database`` (default), ``redis``, ``memory`` or
  a dotted path;
- ``CHANNELS_TEST_REDIS``: the Redis URL (the suite's one variable, see
  tests/services.py; a test with servers of its own gives their URLs,
  comma-separated) and ``CHANNELS_TEST_PREFIX``: the key prefix of this
  deployment, for a Redis backend.
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "channels"]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-test-project.sqlite3"),
        # Workers, servers and the test write one SQLite file: wait for its
        # lock rather than fail.
        "OPTIONS": {"timeout": 30},
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}


def channel_backend(routing: str, prefix: str = "test", **options) -> dict:
    """``CHANNEL_BACKENDS["default"]`` for the backend the test chose
    (CHANNELS_TEST_BACKEND), routed by ``routing``, with ``options``. On Redis
    it gets CHANNELS_TEST_REDIS and CHANNELS_TEST_PREFIX (``prefix`` when
    unset); CI exports CHANNELS_TEST_REDIS for the whole suite, so only a
    Redis backend takes it."""
    backend = {
        "BACKEND": os.environ.get("CHANNELS_TEST_BACKEND", "database"),
        "ROUTING": routing,
        **options,
    }
    if os.environ.get("CHANNELS_TEST_REDIS") and "redis" in backend["BACKEND"].lower():
        # Comma-separated: shards (tests that start their own servers).
        backend["HOSTS"] = os.environ["CHANNELS_TEST_REDIS"].split(",")
        backend["PREFIX"] = os.environ.get("CHANNELS_TEST_PREFIX", prefix)
    return backend
