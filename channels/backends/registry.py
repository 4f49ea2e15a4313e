"""The configured backends, reached as ``channels.channel_backends[alias]``.

Like ``django.db.connections``: each alias of ``CHANNEL_BACKENDS`` is built
once per process on first use, from settings, and shared by every thread.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ..exceptions import ImproperlyConfiguredBackend
from .base import BaseChannelBackend

DEFAULT_CHANNEL_BACKEND = "default"

#: Short names accepted in ``BACKEND`` besides a dotted path.
BACKEND_ALIASES = {
    "memory": "channels.backends.memory.InMemoryChannelBackend",
    "database": "channels.backends.database.DatabaseChannelBackend",
    "redis": "channels.backends.redis.RedisChannelBackend",
}

#: Keys of a ``CHANNEL_BACKENDS`` entry that are not backend options.
NON_OPTION_KEYS = ("BACKEND", "ROUTING", "TEST")


def backend_settings() -> dict[str, dict[str, Any]]:
    """``CHANNEL_BACKENDS``, else a mapped 1.x ``CHANNEL_LAYERS``, else ``{}``."""
    configured = getattr(settings, "CHANNEL_BACKENDS", None)
    if configured is None:
        # A Channels 1.x project: map its CHANNEL_LAYERS (logged once).
        from .legacy import legacy_backend_settings

        return legacy_backend_settings()
    if not isinstance(configured, dict):
        raise ImproperlyConfiguredBackend(
            f"CHANNEL_BACKENDS must be a dict of alias: config, not {type(configured).__name__}"
        )
    return configured


def backend_class(path: str) -> type[BaseChannelBackend]:
    """Import the backend class named by ``path`` (or a short alias)."""
    dotted = BACKEND_ALIASES.get(path, path)
    try:
        cls = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfiguredBackend(f"cannot import backend {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseChannelBackend)):
        raise ImproperlyConfiguredBackend(
            f"backend {path!r} is not a subclass of channels.backends.base.BaseChannelBackend"
        )
    return cls


def build_backend(alias: str, config: dict[str, Any]) -> BaseChannelBackend:
    """Make a backend from one ``CHANNEL_BACKENDS`` entry (does not connect)."""
    if not isinstance(config, dict):
        raise ImproperlyConfiguredBackend(f"CHANNEL_BACKENDS[{alias!r}] must be a dict")
    if "BACKEND" not in config:
        raise ImproperlyConfiguredBackend(f"CHANNEL_BACKENDS[{alias!r}] has no BACKEND")
    options = {k: v for k, v in config.items() if k not in NON_OPTION_KEYS}
    return backend_class(config["BACKEND"])(alias, **options)


class ChannelBackendManager:
    """Lazily builds and caches one backend per alias of ``CHANNEL_BACKENDS``."""

    def __init__(self) -> None:
        self._backends: dict[str, BaseChannelBackend] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether the project has any channel backend configured."""
        return bool(backend_settings())

    def config(self, alias: str = DEFAULT_CHANNEL_BACKEND) -> dict[str, Any]:
        """The settings entry of ``alias``."""
        configured = backend_settings()
        if alias not in configured:
            raise ImproperlyConfiguredBackend(
                f"no channel backend {alias!r} in CHANNEL_BACKENDS "
                f"(configured: {', '.join(configured) or 'none'})"
            )
        return configured[alias]

    def __getitem__(self, alias: str) -> BaseChannelBackend:
        backend = self._backends.get(alias)
        if backend is None:
            with self._lock:
                backend = self._backends.get(alias)
                if backend is None:
                    backend = build_backend(alias, self.config(alias))
                    self._backends[alias] = backend
        return backend

    def __contains__(self, alias: str) -> bool:
        return alias in backend_settings()

    def __iter__(self):
        return iter(backend_settings())

    def set(self, alias: str, backend: BaseChannelBackend) -> None:
        """Install ``backend`` under ``alias`` (test helpers use this)."""
        with self._lock:
            self._backends[alias] = backend

    def reset(self) -> None:
        """Close and forget every backend; they are rebuilt on next use."""
        with self._lock:
            backends, self._backends = self._backends, {}
        for backend in backends.values():
            backend.close()


channel_backends = ChannelBackendManager()


def _reset_on_settings_change(setting: str, **kwargs: Any) -> None:
    if setting in ("CHANNEL_BACKENDS", "CHANNEL_LAYERS"):
        channel_backends.reset()


setting_changed.connect(_reset_on_settings_change)
