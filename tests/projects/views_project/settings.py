"""A small project whose views the end-to-end tests call through workers.

The channel backend is chosen by environment variables so one project serves
every backend: CHANNELS_TEST_BACKEND (dotted path), CHANNELS_TEST_SQLITE
(database file) and, for PostgreSQL, CHANNELS_TEST_POSTGRES (a URL) with
CHANNELS_TEST_PG_SCHEMA (the schema the test made for this deployment).
"""

import os
from urllib.parse import urlparse

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "views_project.urls"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-views-project.sqlite3"),
    }
}
if os.environ.get("CHANNELS_TEST_DB") == "postgres":
    url = urlparse(os.environ["CHANNELS_TEST_POSTGRES"])
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "postgres",
        "HOST": url.hostname,
        "PORT": url.port or 5432,
        # The test creates this schema for the deployment and drops it after.
        "OPTIONS": {"options": f"-c search_path={os.environ['CHANNELS_TEST_PG_SCHEMA']}"},
    }

CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": os.environ.get(
            "CHANNELS_TEST_BACKEND", "channels.backends.database.DatabaseChannelBackend"
        ),
        "ROUTING": "views_project.routing.channel_routing",
    }
}
# CI exports CHANNELS_TEST_REDIS for the whole suite: only a Redis backend takes it.
if os.environ.get("CHANNELS_TEST_REDIS") and "redis" in CHANNEL_BACKENDS["default"]["BACKEND"]:
    CHANNEL_BACKENDS["default"]["HOSTS"] = [os.environ["CHANNELS_TEST_REDIS"]]

# Small enough that the upload test crosses to disk, and the body travels
# in several chunks.
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
CHANNELS_HTTP_TIMEOUT = float(os.environ.get("CHANNELS_HTTP_TIMEOUT", "30"))
if os.environ.get("CHANNELS_TEST_HTTP_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"] = {
        "http.request": int(os.environ["CHANNELS_TEST_HTTP_CAPACITY"])
    }
if os.environ.get("CHANNELS_TEST_EXPIRY"):
    CHANNEL_BACKENDS["default"]["EXPIRY"] = float(os.environ["CHANNELS_TEST_EXPIRY"])
