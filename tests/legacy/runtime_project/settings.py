"""Settings of the runtime project (see the package docstring)."""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import INSTALLED_APPS

DEBUG = os.environ.get("RUNTIME_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "tests.legacy.runtime_project.urls"
INSTALLED_APPS = [
    *INSTALLED_APPS,
    "tests.legacy.runtime_project",  # connects the signal receivers
]
if os.environ.get("RUNTIME_STATICFILES") == "first":
    # The order of a default startproject and of the 1.x example apps.
    INSTALLED_APPS.insert(0, "django.contrib.staticfiles")
elif os.environ.get("RUNTIME_STATICFILES") == "last":
    INSTALLED_APPS.append("django.contrib.staticfiles")
if os.environ.get("RUNTIME_DELAY") == "1":
    INSTALLED_APPS.append("channels.delay")
STATIC_URL = "/static/"
STATICFILES_DIRS = [os.path.join(os.path.dirname(__file__), "static")]

ROUTING = "tests.legacy.runtime_project.routing." + os.environ.get(
    "RUNTIME_ROUTING", "channel_routing"
)
BACKEND = os.environ.get("CHANNELS_TEST_BACKEND", "database")
#: Room for 200 clients connecting at once (test_unrouted_websocket).
CONNECT_CAPACITY = {"websocket.connect": 1000}
REDIS = os.environ.get("CHANNELS_TEST_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("CHANNELS_TEST_PREFIX", "runtime:")

if BACKEND == "none":
    pass  # a plain Django project: no channel backend at all
elif os.environ.get("RUNTIME_LAYERS") == "1":
    # As a Channels 1.x project wrote it.
    LAYER = {
        "memory": "asgiref.inmemory.ChannelLayer",
        "database": "channels.database_layer.DatabaseChannelLayer",
        "redis": "asgi_redis.RedisChannelLayer",
    }[BACKEND]
    CONFIG = {"hosts": [REDIS], "prefix": PREFIX} if BACKEND == "redis" else {}
    CONFIG["channel_capacity"] = CONNECT_CAPACITY
    CHANNEL_LAYERS = {"default": {"BACKEND": LAYER, "ROUTING": ROUTING, "CONFIG": CONFIG}}
else:
    CHANNEL_BACKENDS = {
        "default": {"BACKEND": BACKEND, "ROUTING": ROUTING, "CHANNEL_CAPACITY": CONNECT_CAPACITY}
    }
    if BACKEND == "redis":
        CHANNEL_BACKENDS["default"].update(HOSTS=[REDIS], PREFIX=PREFIX)

if os.environ.get("RUNTIME_WS_PROTOCOLS"):
    # Channels 1.x: the subprotocols runserver may pick from a client's offer.
    CHANNELS_WS_PROTOCOLS = os.environ["RUNTIME_WS_PROTOCOLS"].split(",")
