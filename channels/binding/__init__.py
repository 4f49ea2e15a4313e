"""Channels 1.x data binding: models pushed to groups, changed by clients.

See docs/binding.rst. ``from channels.binding.websockets import WebsocketBinding``
is the usual entry point.
"""

from .base import CREATE, DELETE, UPDATE, Binding

__all__ = ["Binding", "CREATE", "UPDATE", "DELETE"]
