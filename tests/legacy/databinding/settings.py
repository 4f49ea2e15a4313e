"""Settings of the data-binding project when it runs as real processes
(runwsserver, runworker, migrate), chosen by environment variables:

CHANNELS_TEST_BACKEND (database by default), CHANNELS_TEST_SQLITE (database
file), CHANNELS_TEST_REDIS + CHANNELS_TEST_PREFIX (Redis backend); the
channel layer in 1.x form (see tests/legacy/project_settings.py).
"""

import os

from tests.legacy.project_settings import *  # noqa: F403
from tests.legacy.project_settings import channel_layers

HERE = os.path.dirname(__file__)

ROOT_URLCONF = "tests.legacy.databinding.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "channels",
    "tests.legacy.databinding.values",
]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(HERE, "templates")],
    }
]
# 1.x form, as the 1.x example wrote it (asgi_redis, or the ORM layer).
CHANNEL_LAYERS = channel_layers("tests.legacy.databinding.routing.channel_routing")
