"""``manage.py runworker``: serve routed channels in a single-threaded loop
(or ``--threads N`` of them in one process)."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandError

from channels.backends.registry import channel_backends
from channels.exceptions import ImproperlyConfiguredBackend
from channels.signals import worker_process_ready
from channels.workers.metrics import NullWorkerMetrics, WorkerMetrics
from channels.workers.routing import load_router
from channels.workers.worker import NoChannelsToServe, Worker, WorkerGroup, WorkerThreadFailed

from ..process_setup import (
    add_backend_argument,
    add_metrics_arguments,
    configure_logging,
    start_metrics,
    stop_on_signals,
)


class Command(BaseCommand):
    help = (
        "Run a channels worker: receive messages from the channel backend and run "
        "the consumers its routing names. SIGTERM or SIGINT finishes the message "
        "in hand, then exits 0."
    )

    def add_arguments(self, parser):
        add_backend_argument(parser)
        # "extend": both "--only-channels a b" and the Channels 1.x spelling
        # "--only-channels a --only-channels b" give [a, b].
        parser.add_argument(
            "--only-channels",
            nargs="+",
            action="extend",
            default=None,
            metavar="PATTERN",
            help="Serve only channels matching these glob patterns.",
        )
        parser.add_argument(
            "--exclude-channels",
            nargs="+",
            action="extend",
            default=None,
            metavar="PATTERN",
            help="Do not serve channels matching these glob patterns.",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            metavar="N",
            help="Worker threads in this process (default 1: one single-threaded worker).",
        )
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static_handler",
            help="With DEBUG and django.contrib.staticfiles, do not serve STATIC_URL.",
        )
        add_metrics_arguments(parser)

    def handle(self, *args, alias, only_channels, exclude_channels, verbosity, **options):
        from channels.staticfiles import serves_static_files

        configure_logging(verbosity)
        threads = options["threads"]
        if threads < 1:
            raise CommandError(f"--threads must be at least 1, not {threads}")
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
            # As Channels 1.x did: in DEBUG, requests under STATIC_URL that no
            # route takes are served from the static files finders.
            static = serves_static_files(options["use_static_handler"])
            router = load_router(alias, static_files=static)
            kwargs = {"metrics": metrics, "watch_delay_server": True}
            if threads == 1:
                worker = Worker(backend, router, only_channels, exclude_channels, **kwargs)
            else:
                worker = WorkerGroup(
                    backend, router, threads, only_channels, exclude_channels, **kwargs
                )
        except (ImproperlyConfiguredBackend, NoChannelsToServe) as exc:
            raise CommandError(str(exc)) from exc
        # channel_layers[alias].router is what this process routes with (1.x).
        backend.router = router
        self.stdout.write(
            f"Worker on {backend!r} serving {', '.join(worker.channels)}"
            + (f" in {threads} threads" if threads > 1 else "")
            + (" (and static files)" if static else ""),
            self.style.SUCCESS,
        )
        self.stdout.flush()

        stop_on_signals(
            worker, logging.getLogger("channels.worker"), "finishing the message in hand"
        )
        worker_process_ready.send(sender=worker)
        worker.ready()
        try:
            worker.run()
        except WorkerThreadFailed as exc:  # logged with its traceback already
            raise CommandError(str(exc)) from exc
        finally:
            backend.close()
