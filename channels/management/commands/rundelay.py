"""``manage.py rundelay``: the delay server (needs ``channels.delay`` installed).

Messages sent to ``asgi.delay`` are kept in the database and delivered to
their channel after their delay (see :mod:`channels.delay.server`). One
process is enough; more are safe (each due message is sent once).
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from channels.backends.registry import channel_backends
from channels.exceptions import ImproperlyConfiguredBackend

from ..process_setup import add_backend_argument, configure_logging, stop_on_signals


class Command(BaseCommand):
    help = (
        "Run the delay server: messages sent to asgi.delay (channel, content, delay in ms) "
        "are delivered to their channel after the delay, surviving restarts. SIGTERM or "
        "SIGINT stops it; pending messages stay in the database."
    )

    def add_arguments(self, parser):
        add_backend_argument(parser)
        parser.add_argument(
            "--max-pending",
            type=int,
            default=None,
            metavar="N",
            help="Most delayed messages waiting at once; more are refused with an error "
            "line (default 100000).",
        )
        parser.add_argument(
            "--sleep",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Longest wait between two looks at the table of pending messages when idle "
            "(default 1; the Channels 1.x option).",
        )

    def handle(self, *args, alias, max_pending, sleep, verbosity, **options):
        configure_logging(verbosity)
        if not apps.is_installed("channels.delay"):
            raise CommandError(
                'rundelay needs the delay app: add "channels.delay" to INSTALLED_APPS, '
                "then run manage.py migrate"
            )
        from channels.delay.models import DelayedMessage
        from channels.delay.server import DEFAULT_MAX_PENDING, DelayServer

        if max_pending is not None and max_pending < 1:
            raise CommandError(f"--max-pending must be at least 1, not {max_pending}")
        if sleep is not None and not 0 < sleep <= 3600:
            raise CommandError(f"--sleep must be more than 0 and at most 3600 seconds, not {sleep}")
        if not channel_backends.configured:
            raise CommandError("CHANNEL_BACKENDS is not set: there is nothing to deliver to.")
        try:
            backend = channel_backends[alias]
        except ImproperlyConfiguredBackend as exc:
            raise CommandError(str(exc)) from exc
        try:
            DelayedMessage.objects.exists()
        except DatabaseError as exc:
            raise CommandError(
                f"the delay server's table is not usable ({exc}): run manage.py migrate"
            ) from exc
        server = DelayServer(backend, max_pending or DEFAULT_MAX_PENDING)
        if sleep is not None:
            server.MAX_WAIT = sleep
        self.stdout.write(f"Delay server on {backend!r} serving asgi.delay", self.style.SUCCESS)
        self.stdout.flush()

        stop_on_signals(
            server,
            logging.getLogger("channels.delay"),
            "stopping; pending messages stay in the database",
        )
        try:
            server.run()
        finally:
            backend.close()
