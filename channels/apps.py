"""The Django app configuration of ``channels``."""

from django.apps import AppConfig, apps


class ChannelsConfig(AppConfig):
    """Registers the system checks and the data bindings, and makes ``runserver`` ours."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)

        # Data binding (docs/binding.rst): connect every Binding class defined
        # so far to its model's signals; classes defined later connect at once.
        from .binding.base import BindingMetaclass

        BindingMetaclass.register_all()

        # runserver is ours even when django.contrib.staticfiles is listed
        # first (see channels.management.commands.runserver).
        if apps.is_installed("django.contrib.staticfiles"):
            from .management.commands.runserver import take_over_staticfiles_runserver

            take_over_staticfiles_runserver()
