"""The echo project plus what the HTTP limit tests need: a large streamed
response whose progress the test can watch, and an ``http.disconnect``
consumer that records what it got.

Files the views and consumers write to live in CHANNELS_TEST_RECORD_DIR.
"""

from echo_project.settings import *  # noqa: F403

ROOT_URLCONF = "limits_project.urls"
CHANNEL_BACKENDS["default"]["ROUTING"] = "limits_project.routing.channel_routing"  # noqa: F405
