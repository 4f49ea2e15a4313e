"""Settings of our benchmark project: runwsserver + runworker on the Redis backend."""

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

# The backend's default capacity unless BENCH_CAPACITY says otherwise.
if os.environ.get("BENCH_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CAPACITY"] = int(os.environ["BENCH_CAPACITY"])
