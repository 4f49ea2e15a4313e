"""Settings of the Channels 4 + Daphne + channels_redis benchmark peer."""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["daphne", "channels"]
MIDDLEWARE = []
ROOT_URLCONF = "c4proj.urls"
ASGI_APPLICATION = "c4proj.asgi.application"
DATABASES = {}
USE_TZ = True
USE_I18N = False
LOGGING_CONFIG = None
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")],
        },
    }
}

# The backend's default capacity unless BENCH_CAPACITY says otherwise.
if os.environ.get("BENCH_CAPACITY"):
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = int(os.environ["BENCH_CAPACITY"])
