"""The Django app configuration of ``channels``."""

from django.apps import AppConfig, apps


class ChannelsConfig(AppConfig):
    """Registers the system checks and makes ``runserver`` ours."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)

        # runserver is ours even when django.contrib.staticfiles is listed
        # first (see channels.management.commands.runserver).
        if apps.is_installed("django.contrib.staticfiles"):
            from .management.commands.runserver import take_over_staticfiles_runserver

            take_over_staticfiles_runserver()
