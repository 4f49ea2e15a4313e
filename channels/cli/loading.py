"""Django set-up for CLI commands."""

from __future__ import annotations

import os

import click


def backend_for(alias: str):
    """Set Django up and return the backend of ``alias`` (a clear error if unset)."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise click.UsageError("set DJANGO_SETTINGS_MODULE or pass --settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
        from channels.backends.registry import channel_backends

        return channel_backends[alias]
    except (ImportError, ImproperlyConfigured) as exc:
        raise click.ClickException(f"cannot load backend {alias!r}: {exc}") from exc
