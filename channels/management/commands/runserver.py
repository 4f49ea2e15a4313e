"""``manage.py runserver`` for development: interface server plus workers in
one process, with Django's autoreloader and static files in DEBUG.

With no ``CHANNEL_BACKENDS`` it is Django's own runserver. Otherwise it runs
the Twisted interface server (HTTP and WebSocket) in the reactor and
``--workers`` worker threads on the same backend (memory or database; the
memory backend works here because everything shares one process).

Layering note: this dev-only command is the one place where the interface
server and project code share a process. Static files are still served by
the worker side (a view consumer that knows ``STATIC_URL``), so the
interface server itself never runs project code, even here.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlparse

from django.apps import apps
from django.conf import settings
from django.core.management.commands.runserver import Command as DjangoRunserver
from django.db import connections

from channels.backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from channels.interfaces.options import ServerOptions

from ..process_setup import configure_logging
from .runwsserver import tcp_endpoint


def static_view_consumer():
    """A view consumer that also serves STATIC_URL from the finders (DEBUG)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandlerMixin

    from channels.handler import ViewConsumer

    class StaticViewConsumer(StaticFilesHandlerMixin, ViewConsumer):
        """Django's static files handler logic, on the worker side."""

        def __init__(self) -> None:
            ViewConsumer.__init__(self)
            self.base_url = urlparse(self.get_base_url())

        def load_middleware(self, *args, **kwargs) -> None:
            # The mixin skips middleware (it wraps a loaded handler); we are
            # that handler, so load it.
            ViewConsumer.load_middleware(self, *args, **kwargs)

        def get_response(self, request):
            if self._should_handle(request.path):
                return StaticFilesHandlerMixin.get_response(self, request)
            return ViewConsumer.get_response(self, request)

    return StaticViewConsumer()


class Command(DjangoRunserver):
    help = (
        "Development server: the channels interface server plus in-process workers "
        "(Django's runserver when CHANNEL_BACKENDS is not set)."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--workers", type=int, default=1, help="Worker threads to run (default 1)."
        )
        parser.add_argument(
            "--backend", "--layer", dest="alias", default=DEFAULT_CHANNEL_BACKEND,
            help="Alias in CHANNEL_BACKENDS to use (default: %(default)s).",
        )  # fmt: skip
        parser.add_argument(
            "--http-timeout", type=float, default=60.0,
            help="Seconds a worker has to start a response before a 504.",
        )  # fmt: skip
        parser.add_argument(
            "--nostatic", action="store_false", dest="use_static_handler",
            help="Do not serve static files in DEBUG.",
        )  # fmt: skip
        parser.add_argument(
            "--insecure", action="store_true", dest="insecure_serving",
            help="Serve static files even with DEBUG off.",
        )  # fmt: skip

    def inner_run(self, *args: Any, **options: Any) -> None:
        """Run channels' dev server, or Django's when no backend is set."""
        if not channel_backends.configured:
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
        from channels.interfaces.server import Server
        from channels.routing import route
        from channels.workers.routing import load_router
        from channels.workers.worker import Worker

        alias = options["alias"]
        backend = channel_backends[alias]
        router = load_router(alias)
        static = options["use_static_handler"] and (settings.DEBUG or options["insecure_serving"])
        if static and apps.is_installed("django.contrib.staticfiles"):
            from channels.routing import Router

            # Put static files ahead of the default view route.
            project_router = Router(channel_backends.config(alias)["ROUTING"])
            if "http.request" not in project_router.channels:
                project_router.add_route(route("http.request", static_view_consumer()))
                router = project_router
        workers = [Worker(backend, router) for _ in range(max(1, options["workers"]))]
        threads = [
            threading.Thread(target=w.run, name=f"channels-worker-{i}", daemon=True)
            for i, w in enumerate(workers)
        ]
        for thread in threads:
            thread.start()
        allowed = list(settings.ALLOWED_HOSTS) or [".localhost", "127.0.0.1", "[::1]"]
        server = Server(
            backend,
            [tcp_endpoint(self.addr.strip("[]"), int(self.port))],
            ServerOptions(
                accept_all=True, allowed_hosts=allowed, http_timeout=options["http_timeout"]
            ),
        )
        addr = f"[{self.addr}]" if self._raw_ipv6 else self.addr

        def listening(ports: list) -> None:
            self.stdout.write(
                f"Channels development server at http://{addr}:{self.port}/ "
                f"({len(workers)} worker thread(s) on {backend!r})\n"
                f"Quit the server with {'CTRL-BREAK' if self._windows() else 'CONTROL-C'}."
            )
            self.stdout.flush()

        in_main = threading.current_thread() is threading.main_thread()
        try:
            server.run(on_listening=listening, install_signal_handlers=in_main)
        finally:
            for worker in workers:
                worker.stop()

    @staticmethod
    def _windows() -> bool:
        import sys

        return sys.platform == "win32"
