"""``manage.py runwsserver [addr:port]``: the Twisted + Autobahn interface server.

It holds client connections and relays them to workers through the channel
backend; it never runs project code (run ``manage.py runworker`` for that).
WebSocket always; plain HTTP too with ``--accept-all``.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from channels.exceptions import ImproperlyConfiguredBackend
from channels.interfaces.access_log import FORMATS, open_access_log
from channels.interfaces.endpoints import (
    DEFAULT_ADDR,
    DEFAULT_PORT,
    EndpointError,
    check_descriptions,
    listening_descriptions,
)
from channels.interfaces.metrics import InterfaceMetrics, NullInterfaceMetrics
from channels.interfaces.options import MIB, ServerOptions
from channels.security.websockets import effective_allowed_hosts

from ..process_setup import add_metrics_arguments, configure_logging, start_metrics


def add_server_arguments(parser: CommandParser) -> None:
    """The interface server's options (shared with ``runserver``)."""
    d = ServerOptions()
    add = parser.add_argument
    add(
        "--backend",
        "--layer",
        dest="alias",
        default=DEFAULT_CHANNEL_BACKEND,
        help="Alias in CHANNEL_BACKENDS to use (default: %(default)s).",
    )
    add("-b", "--bind", metavar="ADDRESS", help="Daphne's spelling of the address to listen on.")
    add("-p", "--port", type=int, metavar="PORT", help="Daphne's spelling of the port.")
    add("-u", "--unix-socket", metavar="PATH", help="Listen on a UNIX socket instead of TCP.")
    add("--fd", type=int, metavar="N", help="Listen on a socket passed as file descriptor N.")
    add(
        "-e",
        "--endpoint",
        dest="endpoints",
        action="append",
        default=[],
        metavar="DESCRIPTION",
        help="Also listen on a Twisted endpoint description, e.g. tcp:8000:interface=127.0.0.1, "
        "unix:/run/app.sock, ssl:8443:privateKey=key.pem:certKey=cert.pem, "
        "systemd:domain=INET:index=0 (repeatable; without an address, only these).",
    )
    add(
        "--proxy-headers",
        action="store_true",
        help="Take the client address (and port, scheme) from the headers named by "
        "--proxy-headers-host/-port/-proto, only from --trusted-proxies.",
    )
    add(
        "--trusted-proxies",
        nargs="+",
        default=d.trusted_proxies,
        metavar="ADDR",
        help="Addresses or networks whose proxy headers are believed ('unix' for a UNIX "
        "socket peer; default: %(default)s).",
    )
    add("--root-path", default=d.root_path, help="Mount point of the app (ASGI root_path).")
    add(
        "--access-log",
        metavar="FILE",
        help="Write an access log to FILE ('-' for stdout).",
    )
    add(
        "--access-log-format",
        choices=FORMATS,
        default="common",
        help="common (Common Log Format, the default) or json (one object a line).",
    )
    add(
        "--server-name",
        default=d.server_name,
        metavar="NAME",
        help="The Server header of responses and handshakes (default %(default)s).",
    )
    add(
        "--no-server-name",
        dest="server_name",
        action="store_const",
        const="",
        help="Send no Server header.",
    )
    add(
        "-t",
        "--http-timeout",
        type=float,
        default=d.http_timeout,
        metavar="S",
        help="Seconds a worker has to start a response before a 504 (default %(default)s).",
    )
    add(
        "--websocket-connect-timeout",
        "--websocket_connect_timeout",
        "--connect-timeout",
        dest="connect_timeout",
        type=float,
        default=d.connect_timeout,
        metavar="S",
        help="Seconds the consumer has to accept a WebSocket, -1 for no limit "
        "(default %(default)s).",
    )
    add(
        "--websocket-timeout",
        "--websocket_timeout",
        dest="websocket_timeout",
        type=float,
        default=d.websocket_timeout,
        metavar="S",
        help="Seconds a WebSocket may stay open before it is closed with 1001, -1 for no "
        "limit (default %(default)s).",
    )
    add(
        "--application-close-timeout",
        type=float,
        default=d.application_close_timeout,
        metavar="S",
        help="Seconds a shutdown waits for the disconnect messages of the connections it "
        "closed to reach the backend (default %(default)s).",
    )
    add(
        "--ping-interval",
        type=float,
        default=d.ping_interval,
        metavar="S",
        help="WebSocket ping interval, 0 to disable (default %(default)s).",
    )
    add(
        "--ping-timeout",
        type=float,
        default=d.ping_timeout,
        metavar="S",
        help="Seconds to wait for a pong before dropping (default %(default)s).",
    )
    add(
        "--idle-timeout",
        type=float,
        default=d.idle_timeout,
        metavar="S",
        help="Seconds an HTTP connection may be idle (default %(default)s).",
    )
    add(
        "--head-timeout",
        type=float,
        default=d.head_timeout,
        metavar="S",
        help="Seconds a client has to send a whole request head (default %(default)s).",
    )
    add("--max-header-size", type=int, default=d.max_header_size, metavar="BYTES")
    add("--max-headers", type=int, default=d.max_headers, metavar="N")
    add("--max-body-size", type=int, default=d.max_body_size, metavar="BYTES")
    add(
        "--max-message-size",
        type=int,
        default=d.max_message_size,
        metavar="BYTES",
        help=f"Largest WebSocket message (default {d.max_message_size // MIB} MiB).",
    )
    add("--max-frame-size", type=int, default=d.max_frame_size, metavar="BYTES")
    add("--max-connections", type=int, default=d.max_connections, metavar="N")
    add(
        "--full-wait",
        type=float,
        default=d.full_wait,
        metavar="S",
        help="Seconds a WebSocket frame may wait on a full channel before close 1013 "
        "(default %(default)s).",
    )
    add(
        "--no-compression",
        dest="compression",
        action="store_false",
        help="Do not negotiate permessage-deflate.",
    )
    add(
        "--allowed-origins",
        nargs="+",
        default=[],
        metavar="HOST",
        help="WebSocket Origins allowed besides ALLOWED_HOSTS ('*' allows any).",
    )
    add(
        "--ws-protocol",
        "--subprotocols",
        dest="subprotocols",
        nargs="+",
        default=[],
        metavar="NAME",
        help="Subprotocols to pick when the consumer names none.",
    )
    add(
        "--grace-period",
        type=float,
        default=d.grace_period,
        metavar="S",
        help="Seconds in-flight HTTP responses get on SIGTERM (default %(default)s).",
    )
    add(
        "--health-path",
        default=d.health_path,
        help="Health endpoint path, '' to disable (default %(default)s).",
    )
    add(
        "--proxy-headers-host",
        dest="proxy_host_header",
        default=d.proxy_host_header,
        metavar="HEADER",
        help="With --proxy-headers: the header listing client addresses, one appended by "
        "each proxy (default %(default)s; e.g. X-Real-IP for nginx's).",
    )
    add(
        "--proxy-headers-port",
        dest="proxy_port_header",
        default=d.proxy_port_header,
        metavar="HEADER",
        help="With --proxy-headers: the header holding the client's port (default: none read).",
    )
    add(
        "--proxy-headers-proto",
        dest="proxy_proto_header",
        default=d.proxy_proto_header,
        metavar="HEADER",
        help="With --proxy-headers: the header saying http or https, e.g. X-Forwarded-Proto "
        "(default: none read). Name only headers your proxy sets or overwrites.",
    )
    add(
        "--health-hosts",
        nargs="+",
        default=d.health_hosts,
        metavar="HOST",
        help="Host names the health endpoint answers for (default: any).",
    )
    add(
        "--response-buffer-size",
        type=byte_count,
        default=d.response_buffer_size,
        metavar="BYTES",
        help="Bytes of one HTTP response kept for a client that is not reading it before "
        f"the connection is aborted (default {d.response_buffer_size // MIB} MiB).",
    )
    add(
        "--response-buffer-total",
        type=byte_count,
        default=d.response_buffer_total,
        metavar="BYTES",
        help="The same for all responses of the process "
        f"(default {d.response_buffer_total // MIB} MiB).",
    )
    # What WebSocket clients can make the process hold (docs/security.rst).
    add(
        "--ws-inbound-buffer",
        type=byte_count,
        default=d.ws_inbound_buffer,
        metavar="BYTES",
        help="Decoded message bytes one WebSocket may have waiting for the backend before "
        "its frames wait undecoded (default %(default)s).",
    )
    add(
        "--ws-inbound-total",
        type=byte_count,
        default=d.ws_inbound_total,
        metavar="BYTES",
        help="The same for all WebSockets of the process together (default %(default)s).",
    )
    add(
        "--ws-outbound-buffer",
        type=byte_count,
        default=d.ws_outbound_buffer,
        metavar="BYTES",
        help="Bytes waiting for a WebSocket client that does not read before it is closed "
        "with 1008 (default %(default)s).",
    )
    add(
        "--ws-outbound-total",
        type=byte_count,
        default=d.ws_outbound_total,
        metavar="BYTES",
        help="The same for all WebSockets together; past it the one holding the most is "
        "dropped (default %(default)s).",
    )


def byte_count(value: str) -> int:
    """A positive number of bytes, from the command line."""
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count <= 0:
        raise ArgumentTypeError(f"{value!r} is not a positive number of bytes")
    return count


def server_options(options: dict[str, Any], accept_all: bool) -> ServerOptions:
    """ServerOptions from parsed command options and Django settings."""
    allowed_hosts = effective_allowed_hosts()
    names = [
        "http_timeout", "connect_timeout", "ping_interval", "ping_timeout", "idle_timeout",
        "head_timeout", "max_header_size", "max_headers", "max_body_size", "max_message_size",
        "max_frame_size", "max_connections", "full_wait", "compression", "allowed_origins",
        "subprotocols", "proxy_headers", "trusted_proxies", "root_path", "grace_period",
        "health_path", "health_hosts",
        "proxy_host_header", "proxy_port_header", "proxy_proto_header",
        "response_buffer_size", "response_buffer_total",
        "websocket_timeout", "server_name", "application_close_timeout",
        "ws_inbound_buffer", "ws_inbound_total", "ws_outbound_buffer", "ws_outbound_total",
    ]  # fmt: skip
    if not options["proxy_headers"]:
        named = [
            flag
            for flag, name in [
                ("--proxy-headers-port", "proxy_port_header"),
                ("--proxy-headers-proto", "proxy_proto_header"),
            ]
            if options[name]
        ]
        if options["proxy_host_header"] != ServerOptions.proxy_host_header:
            named.insert(0, "--proxy-headers-host")
        if named:
            raise CommandError(f"{', '.join(named)} needs --proxy-headers")
    built = ServerOptions(
        accept_all=accept_all,
        allowed_hosts=allowed_hosts,
        **{name: options[name] for name in names},
    )
    if built.max_message_size > built.ws_inbound_total:
        # A message is received whole before the backend takes it.
        raise CommandError(
            f"--max-message-size ({built.max_message_size}) must not exceed "
            f"--ws-inbound-total ({built.ws_inbound_total})"
        )
    return built


def endpoints_for(options: dict[str, Any]) -> list[str]:
    """Twisted endpoint descriptions for the listening options."""
    addrport = options.get("addrport")
    if options.get("bind") or options.get("port"):
        if addrport:
            raise CommandError("give the address either as ADDR:PORT or with -b/-p, not both")
        host = options.get("bind") or DEFAULT_ADDR
        addrport = f"{f'[{host}]' if ':' in host else host}:{options.get('port') or DEFAULT_PORT}"
    try:
        descriptions = listening_descriptions(
            addrport,
            options.get("unix_socket"),
            options.get("fd"),
            options.get("endpoints"),
        )
        from twisted.internet import reactor

        check_descriptions(reactor, descriptions)
        return descriptions
    except EndpointError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Run the interface server (Twisted + Autobahn): it holds WebSocket (and, with "
        "--accept-all, HTTP) connections and relays them to workers through the channel "
        "backend. SIGTERM stops it gracefully."
    )
    # Checks run explicitly in handle(), before the server starts.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport", nargs="?", help="Port or address:port (default 127.0.0.1:8000)."
        )
        parser.add_argument(
            "--accept-all",
            action="store_true",
            help="Serve plain HTTP too, not only WebSocket upgrades.",
        )
        add_server_arguments(parser)
        add_metrics_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["verbosity"])
        self.check(display_num_errors=options["verbosity"] > 1)
        if not channel_backends.configured:
            raise CommandError(
                "CHANNEL_BACKENDS is not set: runwsserver needs a channel backend to reach workers."
            )
        try:
            backend = channel_backends[options["alias"]]
        except ImproperlyConfiguredBackend as exc:
            raise CommandError(str(exc)) from exc
        from channels.interfaces.malloc import return_large_buffers_to_the_system
        from channels.interfaces.server import Server

        # Memory freed after a burst of large messages goes back to the system.
        return_large_buffers_to_the_system()
        server = Server(
            backend,
            endpoints_for(options),
            server_options(options, options["accept_all"]),
            access_log=open_access_log(options.get("access_log"), options["access_log_format"]),
            metrics=start_metrics(
                self,
                InterfaceMetrics,
                NullInterfaceMetrics,
                options.get("metrics_port"),
                options.get("metrics_addr"),
            ),
        )

        def listening(ports: list) -> None:
            where = ", ".join(str(port.getHost()) for port in ports)
            kind = "HTTP and WebSocket" if options["accept_all"] else "WebSocket only"
            self.stdout.write(f"Listening on {where} ({kind}) via {backend!r}", self.style.SUCCESS)
            self.stdout.flush()

        code = server.run(on_listening=listening)
        backend.close()
        if code:
            raise CommandError("the interface server could not start")
