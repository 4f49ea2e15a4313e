"""Echo project for the interface server tests: WebSocket echo, groups,
accept/reject, close codes, and a few HTTP views.

The backend comes from the environment (see tests/projects/base_settings.py)
so one project serves every backend.
"""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import INSTALLED_APPS, channel_backend

ROOT_URLCONF = "echo_project.urls"
CHANNEL_BACKENDS = {
    "default": channel_backend(
        "echo_project.routing.channel_routing",
        prefix="echo",
        # Roomy enough for 1 MiB messages and the 1,000-socket test.
        MAX_MESSAGE_SIZE=int(os.environ.get("CHANNELS_TEST_MAX_MESSAGE_SIZE", 4 * 1024 * 1024)),
        CHANNEL_CAPACITY={"websocket.connect": 2000, "websocket.disconnect": 2000},
    )
}
if os.environ.get("CHANNELS_TEST_CAPACITY"):
    CHANNEL_BACKENDS["default"]["CAPACITY"] = int(os.environ["CHANNELS_TEST_CAPACITY"])
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024

# runserver tests: DEBUG with static files, or no backend at all.
if os.environ.get("CHANNELS_TEST_DEBUG"):
    DEBUG = True
    INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles"]  # after "channels": ours wins
    STATIC_URL = "/static/"
    STATICFILES_DIRS = [os.path.join(os.path.dirname(__file__), "static")]
if os.environ.get("CHANNELS_TEST_NO_BACKEND"):
    del CHANNEL_BACKENDS
