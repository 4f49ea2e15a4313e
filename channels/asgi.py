"""``channels.asgi``: what a Channels 1.x project's ``asgi.py`` imports.

A 1.x project has, beside ``wsgi.py``::

    import os
    from channels.asgi import get_channel_layer

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
    channel_layer = get_channel_layer()

That module keeps working unchanged: importing this module needs no settings,
and :func:`get_channel_layer` sets Django up (as 1.x did) and returns the
backend of the alias, which sends, receives and manages groups as a 1.x
channel layer did. It is no longer handed to Daphne: run
``manage.py runwsserver`` as the interface server instead (see "Upgrading
from Channels 1.x" in the documentation).
"""

from __future__ import annotations

from .backends.base import BaseChannelBackend
from .backends.registry import DEFAULT_CHANNEL_BACKEND, ChannelBackendManager, channel_backends
from .exceptions import ImproperlyConfiguredBackend

__all__ = [
    "get_channel_layer",
    "channel_layers",
    "ChannelLayerManager",
    "DEFAULT_CHANNEL_LAYER",
    "InvalidChannelLayerError",
]

#: Channels 1.x names of :data:`channels.channel_backends` and its class.
channel_layers = channel_backends
ChannelLayerManager = ChannelBackendManager
DEFAULT_CHANNEL_LAYER = DEFAULT_CHANNEL_BACKEND
#: Channels 1.x name of the error raised for a channel layer setting that
#: cannot be used (no BACKEND, a BACKEND that cannot be imported, ...).
InvalidChannelLayerError = ImproperlyConfiguredBackend


def get_channel_layer(alias: str = DEFAULT_CHANNEL_BACKEND) -> BaseChannelBackend:
    """The backend of ``alias``, after setting Django up if it is not yet.

    Raises :class:`~channels.exceptions.ImproperlyConfiguredBackend` naming
    the problem if the alias is not configured.
    """
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup(set_prefix=False)
    return channel_backends[alias]
