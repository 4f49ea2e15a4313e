"""Settings of our benchmark project: runwsserver + runworker.

On the Redis backend by default; ``BENCH_BACKEND=sqlite`` (file
``BENCH_SQLITE_PATH``) or ``BENCH_BACKEND=postgres`` (``BENCH_PG_*``, tables
in schema ``BENCH_PG_SCHEMA``) put it on the database backend instead.
"""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
MIDDLEWARE = []
ROOT_URLCONF = "oursproj.urls"
DATABASES = {}
USE_TZ = True
USE_I18N = False
LOGGING_CONFIG = None
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": "channels.backends.redis.RedisChannelBackend",
        "HOSTS": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")],
        "ROUTING": "oursproj.routing.channel_routing",
    }
}

BACKEND = os.environ.get("BENCH_BACKEND", "redis")
if BACKEND == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH", "/tmp/bench-peers/ours.sqlite3"),
            "CONN_MAX_AGE": None,  # see below
        }
    }
elif BACKEND == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_PG_NAME", "test"),
            "USER": os.environ.get("BENCH_PG_USER", "postgres"),
            "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "OPTIONS": {
                "options": f"-c search_path={os.environ.get('BENCH_PG_SCHEMA', 'bench_ours')}"
            },
            # Persistent connections, as any PostgreSQL deployment has: with
            # the default 0 the worker reconnects after every message.
            "CONN_MAX_AGE": None,
        }
    }
if BACKEND != "redis":
    CHANNEL_BACKENDS["default"] = {
        "BACKEND": "channels.backends.database.DatabaseChannelBackend",
        "ROUTING": "oursproj.routing.channel_routing",
    }

# The backend's default capacity unless BENCH_CAPACITY says otherwise.
if os.environ.get("BENCH_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CAPACITY"] = int(os.environ["BENCH_CAPACITY"])
