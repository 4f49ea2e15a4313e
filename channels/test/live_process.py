"""A child process of :class:`~channels.test.liveserver.ChannelLiveServerTestCase`.

``python -m channels.test.live_process CONFIG COMMAND [ARGS...]`` loads the
settings the test process handed over in CONFIG (a pickle: the settings
module, if any, and every setting that differs from it, the test databases
among them), then runs the management command (``runwsserver`` or
``runworker``) as ``manage.py`` would.

It also provides ``live_routing``, the routing the live workers serve when
the test case serves static files: ``STATIC_URL`` from the staticfiles
finders first, then the project's own routing.
"""

from __future__ import annotations

import pickle
import re
import sys
from urllib.parse import urlparse

#: Setting (handed to the children) holding the project's own ROUTING.
PROJECT_ROUTING = "CHANNELS_LIVE_SERVER_ROUTING"
#: What children route with when static files are served.
LIVE_ROUTING = "channels.test.live_process.live_routing"


def configure(config_path: str) -> None:
    """Configure Django's settings from the test process's hand-over."""
    from django.conf import Settings, global_settings, settings

    with open(config_path, "rb") as config_file:
        config = pickle.load(config_file)
    module = config["settings_module"]
    base = Settings(module) if module else global_settings
    settings.configure(default_settings=base, **config["settings"])


def __getattr__(name: str):
    # ROUTING is imported by dotted path after settings are configured, so
    # the routing list is built on first access.
    if name == "live_routing":
        return _live_routing()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _live_routing() -> list:
    from django.apps import apps
    from django.conf import settings

    from ..routing import include, route

    routes = []
    static_path = urlparse(settings.STATIC_URL or "").path
    if apps.is_installed("django.contrib.staticfiles") and static_path.startswith("/"):
        from ..staticfiles import StaticFilesConsumer

        routes.append(
            route("http.request", StaticFilesConsumer(), path=rf"^{re.escape(static_path)}")
        )
    routes.append(include(getattr(settings, PROJECT_ROUTING)))
    return routes


def main(argv: list[str]) -> None:
    """Configure settings from ``argv[0]``, then run the command in ``argv[1:]``."""
    configure(argv[0])
    from django.core.management import execute_from_command_line

    execute_from_command_line(["django-admin", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
