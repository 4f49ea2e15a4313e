"""The router a worker serves: the project's ROUTING plus default routes."""

from __future__ import annotations

from collections.abc import Callable

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..exceptions import ImproperlyConfiguredBackend
from ..routing import Router


def load_router(
    alias: str = DEFAULT_CHANNEL_BACKEND, http_consumer: Callable | None = None
) -> Router:
    """The routing of backend ``alias``, with Django's views on ``http.request``.

    As in Channels 1.x, ``http.request`` messages that no route of the
    project takes go to ``http_consumer`` (by default the view handler), so
    plain Django views keep working beside, say, a long-poll consumer routed
    on one path. ``runworker`` and ``runserver`` pass a
    :class:`~channels.staticfiles.StaticFilesConsumer` in DEBUG.
    """
    config = channel_backends.config(alias)
    if "ROUTING" not in config:
        raise ImproperlyConfiguredBackend(f"CHANNEL_BACKENDS[{alias!r}] has no ROUTING")
    router = Router(config["ROUTING"])
    router.check_default(http_consumer)
    return router
