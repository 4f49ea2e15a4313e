"""``manage.py runserver`` for development: interface server plus workers in
one process, with Django's autoreloader and static files in DEBUG.

With no ``CHANNEL_BACKENDS`` (nor a 1.x ``CHANNEL_LAYERS``), or with
``--noasgi``, it is Django's own runserver (serving static files as
``django.contrib.staticfiles`` does). Otherwise it runs the Twisted interface
server (HTTP and WebSocket) in the reactor and ``--workers`` worker threads on
the same backend (memory or database; the memory backend works here because
everything shares one process).

Django runs the ``runserver`` of the first app in INSTALLED_APPS that has
one, and a default project lists ``django.contrib.staticfiles`` before
``channels``. So, as Channels 1.x did, the app's ``ready()`` calls
:func:`take_over_staticfiles_runserver`, after which staticfiles' command is
this one, in either order. This module therefore imports nothing heavy at
the top: it is imported at every Django start-up.

Layering note: this dev-only command is the one place where the interface
server and project code share a process. Static files are still served by
the worker side (:mod:`channels.staticfiles`), so the interface server itself
never runs project code, even here.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management.commands.runserver import Command as DjangoRunserver
from django.db import connections

from channels.backends.registry import channel_backends

from ..process_setup import add_backend_argument, configure_logging


class Command(DjangoRunserver):
    help = (
        "Development server: the channels interface server plus in-process workers "
        "(Django's runserver when no channel backend is configured, or with --noasgi)."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--workers", type=int, default=1, help="Worker threads to run (default 1)."
        )
        parser.add_argument(
            "--noworker", action="store_false", dest="run_worker",
            help="Run no worker threads (run manage.py runworker separately).",
        )  # fmt: skip
        parser.add_argument(
            "--noasgi", action="store_false", dest="use_asgi",
            help="Run Django's plain (WSGI) runserver instead.",
        )  # fmt: skip
        add_backend_argument(parser)
        parser.add_argument(
            "--http-timeout", "--http_timeout", type=float, default=60.0, dest="http_timeout",
            help="Seconds a worker has to start a response before a 504.",
        )  # fmt: skip
        parser.add_argument(
            "--websocket-handshake-timeout", "--websocket_handshake_timeout", type=float,
            default=None, dest="websocket_handshake_timeout",
            help="Seconds a consumer has to accept or refuse a WebSocket (default 20).",
        )  # fmt: skip
        parser.add_argument(
            "--nostatic", action="store_false", dest="use_static_handler",
            help="Do not serve static files in DEBUG.",
        )  # fmt: skip
        parser.add_argument(
            "--insecure", action="store_true", dest="insecure_serving",
            help="Serve static files even with DEBUG off.",
        )  # fmt: skip

    def get_handler(self, *args: Any, **options: Any):
        """Django's WSGI handler, wrapped for static files as staticfiles' runserver does.

        Used only when this command falls back to Django's server.
        """
        from channels.staticfiles import serves_static_files

        handler = super().get_handler(*args, **options)
        if serves_static_files(options["use_static_handler"], options["insecure_serving"]):
            from django.contrib.staticfiles.handlers import StaticFilesHandler

            return StaticFilesHandler(handler)
        return handler

    def inner_run(self, *args: Any, **options: Any) -> None:
        """Run channels' dev server, or Django's when no backend is set."""
        if not options["use_asgi"] or not channel_backends.configured:
            return super().inner_run(*args, **options)
        from django.utils import autoreload

        autoreload.raise_last_exception()
        configure_logging(options["verbosity"])
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for conn in connections.all(initialized_only=True):
            conn.close()
        self.serve(options)

    def serve(self, options: dict[str, Any]) -> None:
        """Start the workers, then run the interface server until stopped."""
        from channels.interfaces.endpoints import tcp_endpoint
        from channels.interfaces.options import ServerOptions
        from channels.interfaces.server import Server
        from channels.security.websockets import effective_allowed_hosts
        from channels.staticfiles import serves_static_files
        from channels.workers.routing import load_router
        from channels.workers.worker import WorkerGroup

        alias = options["alias"]
        backend = channel_backends[alias]
        static = serves_static_files(options["use_static_handler"], options["insecure_serving"])
        router = load_router(alias, static_files=static)
        backend.router = router
        workers = None
        if options["run_worker"]:
            workers = WorkerGroup(backend, router, max(1, options["workers"]))
            workers.ready()
            threading.Thread(target=workers.run, name="channels-workers", daemon=True).start()
        # (Django's runserver refuses to start with DEBUG off and none set.)
        allowed = effective_allowed_hosts()
        server_options = ServerOptions(
            accept_all=True,
            allowed_hosts=allowed,
            http_timeout=options["http_timeout"],
            # Channels 1.x's setting: the WebSocket subprotocols runserver may pick.
            subprotocols=list(getattr(settings, "CHANNELS_WS_PROTOCOLS", None) or []),
        )
        if options["websocket_handshake_timeout"] is not None:
            server_options.connect_timeout = options["websocket_handshake_timeout"]
        server = Server(
            backend, [tcp_endpoint(self.addr.strip("[]"), int(self.port))], server_options
        )
        addr = f"[{self.addr}]" if self._raw_ipv6 else self.addr
        running = f"{len(workers.workers)} worker thread(s)" if workers else "no worker threads"

        def listening(ports: list) -> None:
            self.stdout.write(
                f"Channels development server at http://{addr}:{self.port}/ "
                f"({running} on {backend!r})\n"
                f"Quit the server with {'CTRL-BREAK' if self._windows() else 'CONTROL-C'}."
            )
            self.stdout.flush()

        in_main = threading.current_thread() is threading.main_thread()
        try:
            server.run(on_listening=listening, install_signal_handlers=in_main)
        finally:
            if workers is not None:
                workers.stop()

    @staticmethod
    def _windows() -> bool:
        import sys

        return sys.platform == "win32"


def take_over_staticfiles_runserver() -> None:
    """Make ``django.contrib.staticfiles``' runserver this command.

    Django runs the command of the first app in INSTALLED_APPS that has one;
    replacing staticfiles' command class makes ours run whichever of the two
    comes first (the approach of Channels 1.x). Ours serves static files
    itself, in both modes.
    """
    from django.contrib.staticfiles.management.commands import runserver as staticfiles

    staticfiles.Command = Command
