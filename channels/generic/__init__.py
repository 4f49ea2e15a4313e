"""Class-based consumers (the Channels 1.x ``channels.generic`` API).

Route a class with ``route_class(MyConsumer, path=...)`` or
``MyConsumer.as_route(path=...)``; the worker makes one instance per message,
``MyConsumer(message, **kwargs)``, and the instance runs the method that
``method_mapping`` names for the message's channel.
"""

from .base import BaseConsumer

__all__ = ["BaseConsumer"]
