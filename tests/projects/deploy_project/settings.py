"""The zero-downtime deploy test project: a WebSocket echo and an HTTP view
whose replies carry the "code version" (REPLY_PREFIX), over Redis.

The Redis servers (comma-separated: shards) and key prefix come from
CHANNELS_TEST_REDIS and CHANNELS_TEST_PREFIX, as in every test project
(tests/projects/base_settings.py); REPLY_PREFIX (read by the consumers at
import) is the version a worker answers with, so "new code" is deployed by
starting workers with another value.
"""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import channel_backend

ROOT_URLCONF = "deploy_project.urls"
INSTALLED_APPS = ["channels"]
CHANNEL_BACKENDS = {
    "default": channel_backend(
        "deploy_project.routing.channel_routing",
        prefix="deploy:",
        # Messages wait out a deploy: longer than any outage of the workers.
        EXPIRY=120,
        # Every client may have one frame (or request) queued while no worker
        # runs; these channels hold that burst with room to spare.
        CHANNEL_CAPACITY={
            "websocket.receive": 2000,
            "websocket.connect": 2000,
            "websocket.disconnect": 2000,
            "http.request": 1000,
        },
    )
}
if os.environ.get("DEPLOY_CLUSTER"):
    # CHANNELS_TEST_REDIS names seed nodes of a Redis Cluster.
    CHANNEL_BACKENDS["default"]["CLUSTER"] = True
if os.environ.get("DEPLOY_DEFAULT_CAPACITY"):
    # To see what the defaults (100 per channel) do to the same deploy.
    del CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"]
