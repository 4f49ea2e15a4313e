"""The toolkit's end-to-end project: runworker processes and a client process
share these settings, chosen by environment variables:

CHANNELS_TEST_BACKEND (dotted path; database by default), CHANNELS_TEST_SQLITE
(database file), CHANNELS_TEST_REDIS + CHANNELS_TEST_PREFIX (Redis backend),
CHANNELS_TEST_SESSION_ENGINE, CHANNELS_TEST_TMP (cache and session files).
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["good.example", "localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.toolkit.e2e_project.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-toolkit-e2e.sqlite3"),
        # Several workers write one SQLite file: wait for its lock, not fail.
        "OPTIONS": {"timeout": 30},
    }
}
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
    "default": {
        "BACKEND": os.environ.get(
            "CHANNELS_TEST_BACKEND", "channels.backends.database.DatabaseChannelBackend"
        ),
        "ROUTING": "tests.toolkit.e2e_project.routing.channel_routing",
        # Sixty messages of one socket arrive at once.
        "CAPACITY": 500,
    }
}
if os.environ.get("CHANNELS_TEST_REDIS"):
    CHANNEL_BACKENDS["default"]["HOSTS"] = [os.environ["CHANNELS_TEST_REDIS"]]
    CHANNEL_BACKENDS["default"]["PREFIX"] = os.environ.get("CHANNELS_TEST_PREFIX", "toolkit:")

CHANNELS_ORDERING_MAX_WAIT = float(os.environ.get("CHANNELS_TEST_MAX_WAIT", "30"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels": {"handlers": ["stderr"], "level": "INFO"}},
}
