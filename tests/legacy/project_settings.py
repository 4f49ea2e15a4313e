"""Settings shared by the 1.x-style projects under tests/legacy (multichat,
liveblog, databinding), on top of tests/projects/base_settings.py, as a
Channels 1.x project wrote them: a ``CHANNEL_LAYERS`` setting
naming a 1.x layer class, never ``CHANNEL_BACKENDS``.

Environment (set by :class:`tests.legacy.harness.LegacyProject`):
CHANNELS_TEST_BACKEND (``database`` or ``redis``), CHANNELS_TEST_SQLITE (the
database file), CHANNELS_TEST_REDIS + CHANNELS_TEST_PREFIX (Redis).
"""

import os

from tests.projects.base_settings import *  # noqa: F403

ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
#: The contrib apps every project here installs (sessions and users).
BASE_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
STATIC_URL = "/static/"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "INFO"}},
}


def channel_layers(routing: str) -> dict:
    """``CHANNEL_LAYERS`` in 1.x form for the backend the test chose."""
    if os.environ.get("CHANNELS_TEST_BACKEND") == "redis":
        return {
            "default": {
                "BACKEND": "asgi_redis.RedisChannelLayer",
                "ROUTING": routing,
                "CONFIG": {
                    "hosts": [os.environ["CHANNELS_TEST_REDIS"]],
                    "prefix": os.environ["CHANNELS_TEST_PREFIX"],
                },
            }
        }
    # Channels 0.x/1.0's ORM layer (channels.database_layer), on the same database.
    return {
        "default": {
            "BACKEND": "channels.database_layer.DatabaseChannelLayer",
            "ROUTING": routing,
        }
    }
