"""The zero-downtime deploy test project: a WebSocket echo and an HTTP view
whose replies carry the "code version" (REPLY_PREFIX), over Redis.

DEPLOY_REDIS (redis:// URLs, comma-separated: shards) and DEPLOY_PREFIX (key prefix) choose where
the channels live; REPLY_PREFIX (read by the consumers at import) is the
version a worker answers with, so "new code" is deployed by starting
workers with another value.
"""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "deploy_project.urls"
USE_TZ = True
INSTALLED_APPS = ["channels"]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEPLOY_SQLITE", "/tmp/channels-deploy-project.sqlite3"),
    }
}
CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": "channels.backends.redis.RedisChannelBackend",
        "ROUTING": "deploy_project.routing.channel_routing",
        "HOSTS": os.environ.get("DEPLOY_REDIS", "redis://127.0.0.1:6379/0").split(","),
        "PREFIX": os.environ.get("DEPLOY_PREFIX", "deploy:"),
        # Messages wait out a deploy: longer than any outage of the workers.
        "EXPIRY": 120,
        # Every client may have one frame (or request) queued while no worker
        # runs; these channels hold that burst with room to spare.
        "CHANNEL_CAPACITY": {
            "websocket.receive": 2000,
            "websocket.connect": 2000,
            "websocket.disconnect": 2000,
            "http.request": 1000,
        },
    }
}
if os.environ.get("DEPLOY_CLUSTER"):
    # DEPLOY_REDIS names seed nodes of a Redis Cluster.
    CHANNEL_BACKENDS["default"]["CLUSTER"] = True
if os.environ.get("DEPLOY_DEFAULT_CAPACITY"):
    # To see what the defaults (100 per channel) do to the same deploy.
    del CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"]
