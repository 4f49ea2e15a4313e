"""Settings of the Channels 1.x + Daphne 1.x + asgi_redis benchmark peer (Django 2.1)."""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
MIDDLEWARE = []
ROOT_URLCONF = "c1proj.urls"
DATABASES = {}
USE_TZ = True
# Django 2.1's translation code passes codeset= to gettext, which 3.11 refuses.
USE_I18N = False
LOGGING_CONFIG = None
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgi_redis.RedisChannelLayer",
        "ROUTING": "c1proj.routing.channel_routing",
        "CONFIG": {
            "hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")],
        },
    }
}

# The backend's default capacity unless BENCH_CAPACITY says otherwise.
if os.environ.get("BENCH_CAPACITY"):
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = int(os.environ["BENCH_CAPACITY"])
