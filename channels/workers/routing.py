"""The router a worker serves: the project's routing plus the default route.

As in Channels 1.x, ``http.request`` messages that no route of the project
takes go to Django's views (:class:`~channels.handler.ViewConsumer`), so
plain views keep working beside, say, a long-poll consumer routed on one
path. This is the one place that rule is applied: ``runworker``,
``runserver`` and the test client (:mod:`channels.test.routes`) all build
their router here.
"""

from __future__ import annotations

from typing import Any

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..exceptions import ImproperlyConfiguredBackend
from ..routing import Router


def serving_router(routing: Any, *, static_files: bool = False) -> Router:
    """A router for ``routing`` with Django's views on unrouted ``http.request``.

    With ``static_files`` (``runworker`` and ``runserver`` in DEBUG, see
    :func:`~channels.staticfiles.serves_static_files`) the views are
    reached through a :class:`~channels.staticfiles.StaticFilesConsumer`,
    which serves ``STATIC_URL`` itself.
    """
    router = Router(routing)
    http_consumer = None
    if static_files:
        # Imported only when asked for: it needs django.contrib.staticfiles.
        from ..staticfiles import StaticFilesConsumer

        http_consumer = StaticFilesConsumer()
    router.check_default(http_consumer)
    return router


def load_router(alias: str = DEFAULT_CHANNEL_BACKEND, *, static_files: bool = False) -> Router:
    """:func:`serving_router` for the ``ROUTING`` of backend ``alias``."""
    config = channel_backends.config(alias)
    if "ROUTING" not in config:
        raise ImproperlyConfiguredBackend(f"CHANNEL_BACKENDS[{alias!r}] has no ROUTING")
    return serving_router(config["ROUTING"], static_files=static_files)
