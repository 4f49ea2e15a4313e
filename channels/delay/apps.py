"""The Django app configuration of ``channels.delay``."""

from django.apps import AppConfig


class DelayConfig(AppConfig):
    """The delay server's table (``manage.py rundelay`` runs it)."""

    name = "channels.delay"
    # Not "delay": a project may well have an app of that name.
    label = "channels_delay"
    verbose_name = "Channels delay server"
    default_auto_field = "django.db.models.BigAutoField"
