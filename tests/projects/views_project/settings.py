"""A small project whose views the end-to-end tests call through workers.

The channel backend comes from the environment (tests/projects/base_settings.py);
for PostgreSQL, CHANNELS_TEST_DB=postgres with CHANNELS_TEST_POSTGRES (a URL)
and CHANNELS_TEST_PG_SCHEMA (the schema the test made for this deployment).
"""

import os
from urllib.parse import urlparse

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import DATABASES, INSTALLED_APPS, channel_backend

ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "views_project.urls"
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
if os.environ.get("CHANNELS_TEST_DB") == "postgres":
    url = urlparse(os.environ["CHANNELS_TEST_POSTGRES"])
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "postgres",
            "HOST": url.hostname,
            "PORT": url.port or 5432,
            # The test creates this schema for the deployment and drops it after.
            "OPTIONS": {"options": f"-c search_path={os.environ['CHANNELS_TEST_PG_SCHEMA']}"},
        }
    }

CHANNEL_BACKENDS = {"default": channel_backend("views_project.routing.channel_routing")}

# Small enough that the upload test crosses to disk, and the body travels
# in several chunks.
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
CHANNELS_HTTP_TIMEOUT = float(os.environ.get("CHANNELS_HTTP_TIMEOUT", "30"))
if os.environ.get("CHANNELS_TEST_HTTP_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"] = {
        "http.request": int(os.environ["CHANNELS_TEST_HTTP_CAPACITY"])
    }
if os.environ.get("CHANNELS_TEST_EXPIRY"):
    CHANNEL_BACKENDS["default"]["EXPIRY"] = float(os.environ["CHANNELS_TEST_EXPIRY"])
