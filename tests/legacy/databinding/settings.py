"""Settings of the data-binding project when it runs as real processes
(runwsserver, runworker, migrate), chosen by environment variables:

CHANNELS_TEST_BACKEND (database by default), CHANNELS_TEST_SQLITE (database
file), CHANNELS_TEST_REDIS + CHANNELS_TEST_PREFIX (Redis backend); the
channel layer in 1.x form (see tests/legacy/project_settings.py).
"""

import os

from tests.legacy.project_settings import channel_layers

HERE = os.path.dirname(__file__)

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.legacy.databinding.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
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
STATIC_URL = "/static/"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-databinding.sqlite3"),
        # Worker and test write one SQLite file: wait for its lock, not fail.
        "OPTIONS": {"timeout": 30},
    }
}
# 1.x form, as the 1.x example wrote it (asgi_redis, or the ORM layer).
CHANNEL_LAYERS = channel_layers("tests.legacy.databinding.routing.channel_routing")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "INFO"}},
}
