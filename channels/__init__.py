"""Channels: WebSockets and long-lived HTTP for Django.

Interface servers hold connections, workers run Django code, and a channel
backend carries messages between them. Project code mostly needs::

    from channels import Channel, Group, channel_backends
    from channels import route, route_class, include   # in routing.py, as in Channels 1.x
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "Channel",
    "Group",
    "channel_backends",
    "channel_layers",
    "DEFAULT_CHANNEL_BACKEND",
    "DEFAULT_CHANNEL_LAYER",
    "route",
    "route_class",
    "include",
]

# Imported lazily so that ``import channels`` works before Django settings
# are configured (setup.py, the CLI, interface servers parsing arguments).
_LAZY = {
    "Channel": ("channels.channel", "Channel"),
    "Group": ("channels.channel", "Group"),
    "channel_backends": ("channels.backends.registry", "channel_backends"),
    "channel_layers": ("channels.backends.registry", "channel_backends"),
    "DEFAULT_CHANNEL_BACKEND": ("channels.backends.registry", "DEFAULT_CHANNEL_BACKEND"),
    "DEFAULT_CHANNEL_LAYER": ("channels.backends.registry", "DEFAULT_CHANNEL_BACKEND"),
    # Channels 1.x re-exported its routing helpers here; every 1.x routing.py
    # says ``from channels import route``.
    "route": ("channels.routing", "route"),
    "route_class": ("channels.routing", "route_class"),
    "include": ("channels.routing", "include"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'channels' has no attribute {name!r}")
