"""``manage.py runworker``: serve routed channels in a single-threaded loop."""

from __future__ import annotations

import logging
import signal
import sys

from django.core.management.base import BaseCommand, CommandError

from channels.backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from channels.exceptions import ImproperlyConfiguredBackend
from channels.workers.metrics import NullWorkerMetrics, WorkerMetrics
from channels.workers.routing import load_router
from channels.workers.worker import NoChannelsToServe, Worker

from ..process_setup import add_metrics_arguments, configure_logging, start_metrics


class Command(BaseCommand):
    help = (
        "Run a channels worker: receive messages from the channel backend and run "
        "the consumers its routing names. SIGTERM or SIGINT finishes the message "
        "in hand, then exits 0."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backend",
            "--layer",
            dest="alias",
            default=DEFAULT_CHANNEL_BACKEND,
            help="Alias in CHANNEL_BACKENDS to serve (default: %(default)s).",
        )
        parser.add_argument(
            "--only-channels",
            nargs="+",
            default=None,
            metavar="PATTERN",
            help="Serve only channels matching these glob patterns.",
        )
        parser.add_argument(
            "--exclude-channels",
            nargs="+",
            default=None,
            metavar="PATTERN",
            help="Do not serve channels matching these glob patterns.",
        )
        add_metrics_arguments(parser)

    def handle(self, *args, alias, only_channels, exclude_channels, verbosity, **options):
        configure_logging(verbosity)
        if not channel_backends.configured:
            raise CommandError("CHANNEL_BACKENDS is not set: there is nothing for a worker to do.")
        metrics = start_metrics(
            self,
            WorkerMetrics,
            NullWorkerMetrics,
            options.get("metrics_port"),
            options.get("metrics_addr"),
        )
        try:
            backend = channel_backends[alias]
            router = load_router(alias)
            worker = Worker(backend, router, only_channels, exclude_channels, metrics=metrics)
        except (ImproperlyConfiguredBackend, NoChannelsToServe) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Worker on {backend!r} serving {', '.join(worker.channels)}", self.style.SUCCESS
        )
        self.stdout.flush()

        def request_stop(signum, frame):
            if worker.stopping:
                # A second signal: the operator wants out now.
                sys.exit(1)
            logging.getLogger("channels.worker").info(
                "%s: finishing the message in hand", signal.Signals(signum).name
            )
            worker.stop()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        worker.run()
        backend.close()
