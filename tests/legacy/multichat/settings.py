"""Settings of the multichat project (1.x form)."""

from tests.legacy.project_settings import *  # noqa: F403
from tests.legacy.project_settings import BASE_APPS, channel_layers

INSTALLED_APPS = [*BASE_APPS, "channels"]
ROOT_URLCONF = "tests.legacy.multichat.urls"
CHANNEL_LAYERS = channel_layers("tests.legacy.multichat.routing.channel_routing")
