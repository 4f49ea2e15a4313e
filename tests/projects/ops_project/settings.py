"""Ops project: what ``channels status/latency/bench/flush``, the metrics
endpoints and the interface server's deployment options are tested against.

The backend comes from the environment, as in every test project
(tests/projects/base_settings.py).
"""

import os

from tests.projects.base_settings import *  # noqa: F403
from tests.projects.base_settings import channel_backend

ROOT_URLCONF = "ops_project.urls"
CHANNEL_BACKENDS = {
    "default": channel_backend(
        "ops_project.routing.channel_routing",
        prefix="ops",
        # A capacity of its own, so `channels status` shows it per channel.
        CHANNEL_CAPACITY={"ops.unserved": 40},
    )
}
if os.environ.get("CHANNELS_TEST_HTTP_CAPACITY"):
    # Small, so a test can fill http.request and see the 503.
    CHANNEL_BACKENDS["default"]["CHANNEL_CAPACITY"]["http.request"] = int(
        os.environ["CHANNELS_TEST_HTTP_CAPACITY"]
    )
