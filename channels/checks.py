"""System checks for ``CHANNEL_BACKENDS``: misconfiguration is a clear
error at start-up (``manage.py check``, ``runworker``, ``runwsserver``),
never a traceback at run time."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .backends.registry import backend_settings, build_backend
from .exceptions import ImproperlyConfiguredBackend


@checks.register("channels")
def check_channel_backends(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every alias must build, and name an importable, valid ROUTING."""
    from .routing import Router

    errors: list[checks.CheckMessage] = []
    try:
        configured = backend_settings()
    except ImproperlyConfiguredBackend as exc:
        hint = None
        if getattr(settings, "CHANNEL_BACKENDS", None) is None:
            hint = (
                "CHANNEL_LAYERS is the Channels 1.x setting; write CHANNEL_BACKENDS instead "
                "(see 'Upgrading from Channels 1.x' in the documentation)."
            )
        return [checks.Error(str(exc), hint=hint, id="channels.E001")]
    for alias, config in configured.items():
        where = f"CHANNEL_BACKENDS[{alias!r}]"
        try:
            build_backend(alias, config)
        except ImproperlyConfiguredBackend as exc:
            errors.append(checks.Error(f"{where}: {exc}", id="channels.E002"))
            continue
        if "ROUTING" not in config:
            errors.append(
                checks.Error(
                    f"{where} has no ROUTING",
                    hint='Add "ROUTING": "myproject.routing.channel_routing", a dotted path to '
                    "a list of route() entries.",
                    id="channels.E003",
                )
            )
            continue
        try:
            Router(config["ROUTING"])
        except (ImproperlyConfigured, ImportError, ValueError) as exc:
            errors.append(checks.Error(f"{where} ROUTING: {exc}", id="channels.E004"))
    return errors
