"""The Django app configuration of ``channels``."""

from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Registers the system checks that validate ``CHANNEL_BACKENDS``."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
