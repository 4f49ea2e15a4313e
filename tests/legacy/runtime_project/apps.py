"""The runtime project is an installed app so that its signal receivers are
connected in ready(), as a Channels 1.x project would connect them."""

from django.apps import AppConfig


class RuntimeProjectConfig(AppConfig):
    """Connects :mod:`.receivers`."""

    name = "tests.legacy.runtime_project"
    label = "runtime_project"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
