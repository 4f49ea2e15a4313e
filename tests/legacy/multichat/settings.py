"""Settings of the multichat project (1.x form)."""

from tests.legacy.project_settings import *  # noqa: F403
from tests.legacy.project_settings import channel_layers

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
]
ROOT_URLCONF = "tests.legacy.multichat.urls"
CHANNEL_LAYERS = channel_layers("tests.legacy.multichat.routing.channel_routing")
