"""The toolkit's end-to-end project: runworker processes and a client process
share these settings, chosen by environment variables: the backend as in
every test project (tests/projects/base_settings.py; the database by
default), CHANNELS_TEST_SESSION_ENGINE, CHANNELS_TEST_TMP (cache and session
files).
"""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import INSTALLED_APPS, channel_backend

ALLOWED_HOSTS = ["good.example", "localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.toolkit.e2e_project.urls"
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
_tmp = os.environ.get("CHANNELS_TEST_TMP", "/tmp/channels-toolkit-e2e")
CACHES = {
    # Shared by every process (the cache and cached_db session engines need that).
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.path.join(_tmp, "cache"),
    }
}
SESSION_ENGINE = os.environ.get(
    "CHANNELS_TEST_SESSION_ENGINE", "django.contrib.sessions.backends.db"
)
SESSION_FILE_PATH = os.path.join(_tmp, "sessions")
os.makedirs(SESSION_FILE_PATH, exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CHANNEL_BACKENDS = {
    "default": channel_backend(
        "tests.toolkit.e2e_project.routing.channel_routing",
        prefix="toolkit:",
        # Sixty messages of one socket arrive at once.
        CAPACITY=500,
    )
}

CHANNELS_ORDERING_MAX_WAIT = float(os.environ.get("CHANNELS_TEST_MAX_WAIT", "30"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "INFO"}},
}
