"""Settings of the liveblog project (1.x form)."""

import os

from tests.legacy.project_settings import *  # noqa: F403
from tests.legacy.project_settings import BASE_APPS, channel_layers

INSTALLED_APPS = [
    *BASE_APPS,
    "django.contrib.staticfiles",
    "channels",
    "tests.legacy.liveblog.posts",
]
ROOT_URLCONF = "tests.legacy.liveblog.urls"
# As the 1.x example ran: runworker serves the static files (websocketbridge.js).
DEBUG = True
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
    }
]
CHANNEL_LAYERS = channel_layers("tests.legacy.liveblog.routing.channel_routing")
