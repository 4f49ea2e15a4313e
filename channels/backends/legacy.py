"""Read a Channels 1.x ``CHANNEL_LAYERS`` setting as ``CHANNEL_BACKENDS``.

A project upgraded from Channels 1.x may still say::

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "asgi_redis.RedisChannelLayer",
            "ROUTING": "myproject.routing.channel_routing",
            "CONFIG": {"hosts": [("localhost", 6379)], "capacity": 100},
        },
    }

When ``CHANNEL_BACKENDS`` is absent, :func:`legacy_backend_settings` maps each
layer onto the closest backend of ours and logs one warning saying so (once
per process and setting), so the project runs unchanged while its owner is
told what to write instead. A layer we have no equivalent for
(:data:`UNSUPPORTED_LAYERS`: ``asgi_rabbitmq``, ``asgi_ipc``) is an error that
says which backend to use instead, reported by ``manage.py check`` and at the
start of every command.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings

from ..exceptions import ImproperlyConfiguredBackend

logger = logging.getLogger("channels.backends")

#: 1.x layer classes (dotted path prefixes) -> our backend.
LAYER_BACKENDS = {
    "asgi_redis": "channels.backends.redis.RedisChannelBackend",
    "channels_redis": "channels.backends.redis.RedisChannelBackend",
    "asgiref.inmemory": "channels.backends.memory.InMemoryChannelBackend",
    "channels.database_layer": "channels.backends.database.DatabaseChannelBackend",
}

#: 1.x layers (dotted path prefixes) we do not provide -> what to use instead.
#: They are refused rather than mapped: each behaved differently enough
#: (brokers, shared memory) that a silent substitute would surprise.
UNSUPPORTED_LAYERS = {
    "asgi_rabbitmq": (
        "RabbitMQ is not supported; use the Redis backend "
        '("BACKEND": "channels.backends.redis.RedisChannelBackend", "HOSTS": [...])'
    ),
    "asgi_ipc": (
        "POSIX shared-memory IPC is not supported; for several processes on one host "
        'use the database backend ("BACKEND": "channels.backends.database.'
        'DatabaseChannelBackend", on SQLite or PostgreSQL, no extra server) or Redis'
    ),
}

#: 1.x ``CONFIG`` keys -> our option names.
CONFIG_KEYS = {
    "hosts": "HOSTS",
    "capacity": "CAPACITY",
    "channel_capacity": "CHANNEL_CAPACITY",
    "expiry": "EXPIRY",
    "group_expiry": "GROUP_EXPIRY",
    "prefix": "PREFIX",
    "symmetric_encryption_keys": "SYMMETRIC_ENCRYPTION_KEYS",
    "connection_kwargs": "CONNECTION_KWARGS",
    "db_alias": "DB_ALIAS",
}

# Mapping runs on every backend_settings() call; keep the result per setting
# object so the warning is logged once and the work is done once.
_cache: dict[str, Any] = {"source": None, "mapped": None}


def _matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def layer_backend(path: str) -> str:
    """Our backend's dotted path for a 1.x channel layer class path."""
    for prefix, backend in LAYER_BACKENDS.items():
        if _matches(path, prefix):
            return backend
    for prefix, instead in UNSUPPORTED_LAYERS.items():
        if _matches(path, prefix):
            raise ImproperlyConfiguredBackend(
                f"CHANNEL_LAYERS BACKEND {path!r}: {instead}, in CHANNEL_BACKENDS"
            )
    raise ImproperlyConfiguredBackend(
        f"CHANNEL_LAYERS BACKEND {path!r} has no equivalent here; set CHANNEL_BACKENDS with "
        "one of channels.backends.memory/database/redis instead"
    )


def _accepted_options(backend_path: str) -> set[str] | None:
    """Option names the backend takes, or None if it cannot be imported yet."""
    from django.utils.module_loading import import_string

    try:
        cls = import_string(backend_path)
    except ImportError:
        return None
    return set(cls.common_options) | set(cls.extra_options)


def _channel_capacity(value: Any, alias: str, dropped: list[str]) -> dict[str, int]:
    """1.x channel_capacity: glob strings are kept; compiled regexes cannot be."""
    items = value.items() if isinstance(value, dict) else value
    mapped = {}
    for pattern, capacity in items:
        if isinstance(pattern, re.Pattern):
            dropped.append(f"{alias}: channel_capacity regex {pattern.pattern!r}")
            continue
        mapped[pattern] = capacity
    return mapped


#: asgi_redis 1.x's Sentinel layer: its ``hosts`` are the sentinels and its
#: ``services`` the master names, one shard each.
SENTINEL_LAYER = "asgi_redis.RedisSentinelChannelLayer"


def _sentinel_hosts(alias: str, config: dict, dropped: list[str]) -> list[dict]:
    """The HOSTS of a 1.x Sentinel layer: one Sentinel entry per service."""
    sentinels = [list(h) if isinstance(h, tuple) else h for h in config.get("hosts") or []]
    services = config.get("services")
    if not sentinels or not services:
        raise ImproperlyConfiguredBackend(
            f"CHANNEL_LAYERS[{alias!r}] ({SENTINEL_LAYER}) must list its sentinels in "
            "CONFIG['hosts'] and the master names in CONFIG['services']"
        )
    if "sentinel_refresh_interval" in config:
        dropped.append(f"{alias}: CONFIG['sentinel_refresh_interval'] (asked on each connect)")
    return [{"SENTINELS": sentinels, "MASTER_NAME": name} for name in services]


def map_layer(alias: str, layer: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    """One ``CHANNEL_LAYERS`` entry as a ``CHANNEL_BACKENDS`` entry.

    Keys that have no equivalent are appended to ``dropped`` (for the log line).
    """
    if not isinstance(layer, dict) or "BACKEND" not in layer:
        raise ImproperlyConfiguredBackend(f"CHANNEL_LAYERS[{alias!r}] must be a dict with BACKEND")
    backend = layer_backend(layer["BACKEND"])
    entry: dict[str, Any] = {"BACKEND": backend}
    if "ROUTING" in layer:
        entry["ROUTING"] = layer["ROUTING"]
    accepted = _accepted_options(backend)
    config = dict(layer.get("CONFIG") or {})
    if _matches(layer["BACKEND"], SENTINEL_LAYER):
        entry["HOSTS"] = _sentinel_hosts(alias, config, dropped)
        for key in ("hosts", "services", "sentinel_refresh_interval"):
            config.pop(key, None)
    for key, value in config.items():
        option = CONFIG_KEYS.get(key)
        if option == "CHANNEL_CAPACITY":
            value = _channel_capacity(value, alias, dropped)
        if option == "HOSTS" and isinstance(value, list | tuple):
            # 1.x wrote ("host", port) tuples; both forms are accepted by ours.
            value = [list(h) if isinstance(h, tuple) else h for h in value]
        if option is None or (accepted is not None and option not in accepted):
            dropped.append(f"{alias}: CONFIG[{key!r}]")
            continue
        entry[option] = value
    return entry


def legacy_backend_settings() -> dict[str, dict[str, Any]]:
    """``CHANNEL_LAYERS`` mapped to ``CHANNEL_BACKENDS`` form, or ``{}`` if absent."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if layers is None:
        return {}
    if _cache["source"] is layers:
        return _cache["mapped"]
    if not isinstance(layers, dict):
        raise ImproperlyConfiguredBackend(
            f"CHANNEL_LAYERS must be a dict of alias: config, not {type(layers).__name__}"
        )
    dropped: list[str] = []
    mapped = {alias: map_layer(alias, layer, dropped) for alias, layer in layers.items()}
    summary = "; ".join(
        f"{alias} -> {entry['BACKEND'].rsplit('.', 1)[-1]}"
        + "".join(f" {k}={v!r}" for k, v in entry.items() if k not in ("BACKEND", "ROUTING"))
        for alias, entry in mapped.items()
    )
    logger.warning(
        "CHANNEL_BACKENDS is not set: using the Channels 1.x CHANNEL_LAYERS setting, mapped "
        "as %s%s. Rename the setting to CHANNEL_BACKENDS in that form to silence this.",
        summary,
        f" (ignored: {', '.join(dropped)})" if dropped else "",
    )
    _cache["source"], _cache["mapped"] = layers, mapped
    return mapped
