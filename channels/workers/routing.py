"""The router a worker serves: the project's ROUTING plus default routes."""

from __future__ import annotations

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..exceptions import ImproperlyConfiguredBackend
from ..routing import Router, route


def load_router(alias: str = DEFAULT_CHANNEL_BACKEND) -> Router:
    """The routing of backend ``alias``, with Django's views on ``http.request``.

    As in Channels 1.x, ``http.request`` messages that no route of the
    project takes go to the view handler, so plain Django views keep working
    beside, say, a long-poll consumer routed on one path.
    """
    config = channel_backends.config(alias)
    if "ROUTING" not in config:
        raise ImproperlyConfiguredBackend(f"CHANNEL_BACKENDS[{alias!r}] has no ROUTING")
    router = Router(config["ROUTING"])
    from ..handler import ViewConsumer

    # Last, so any route of the project's own wins (first match wins).
    router.add_route(route("http.request", ViewConsumer()))
    return router
