"""Static files from the worker side, as Channels 1.x served them in development.

With ``DEBUG`` and ``django.contrib.staticfiles`` installed, ``runworker`` and
``runserver`` answer ``http.request`` messages that no project route takes
with :class:`StaticFilesConsumer`: requests under ``STATIC_URL`` are served
from the static files finders, everything else goes to the Django views.
``--nostatic`` turns it off (and ``runserver --insecure`` turns it on without
``DEBUG``), as for Django's own ``runserver``.

A 1.x routing that routes it by hand keeps working::

    from channels.staticfiles import StaticFilesConsumer
    channel_routing = [route("http.request", StaticFilesConsumer()), ...]

Like Django's static files view this is for development: slow, and every
file travels through the channel backend.
"""

from __future__ import annotations

from urllib.parse import urlparse

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandlerMixin

from .handler import ViewConsumer

__all__ = ["StaticFilesConsumer", "StaticFilesHandler", "serves_static_files"]


class StaticFilesConsumer(StaticFilesHandlerMixin, ViewConsumer):
    """The view consumer, serving ``STATIC_URL`` from the static files finders.

    Django's own static files handler logic (the mixin), on the worker side,
    so the interface server never runs project code even in development.
    """

    def __init__(self) -> None:
        ViewConsumer.__init__(self)
        self.base_url = urlparse(self.get_base_url())

    def load_middleware(self, *args, **kwargs) -> None:
        # The mixin skips middleware (it expects to wrap a loaded handler);
        # this consumer is that handler, so load it.
        ViewConsumer.load_middleware(self, *args, **kwargs)

    def get_response(self, request):
        """A static file for paths under ``STATIC_URL``, else the view's response."""
        if self._should_handle(request.path):
            return StaticFilesHandlerMixin.get_response(self, request)
        return ViewConsumer.get_response(self, request)


#: Channels 1.x name of the handler the consumer wrapped; here the consumer is
#: its own handler.
StaticFilesHandler = StaticFilesConsumer


def serves_static_files(use_static_handler: bool = True, insecure_serving: bool = False) -> bool:
    """Whether a development worker should serve ``STATIC_URL`` (Django's rule).

    ``use_static_handler`` is false with ``--nostatic``; ``insecure_serving``
    (``--insecure``) serves them without ``DEBUG``. Never without
    ``django.contrib.staticfiles``, which would have no ``STATIC_URL``.
    """
    return (
        use_static_handler
        and (settings.DEBUG or insecure_serving)
        and apps.is_installed("django.contrib.staticfiles")
    )
