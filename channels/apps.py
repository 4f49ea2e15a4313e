"""The Django app configuration of ``channels``."""

from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Registers the system checks that validate ``CHANNEL_BACKENDS``."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)

        # Data binding (docs/binding.rst): connect every Binding class defined
        # so far to its model's signals; classes defined later connect at once.
        from .binding.base import BindingMetaclass

        BindingMetaclass.register_all()
