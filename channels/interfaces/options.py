"""Every tunable of the interface server, with its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

KIB = 1024
MIB = 1024 * KIB


@dataclass
class ServerOptions:
    """Limits and behaviour of one interface server process.

    The defaults suit a server behind a load balancer on the public internet;
    ``runwsserver`` exposes each as a command-line option.
    """

    #: Serve plain HTTP too (without it only WebSocket upgrades are served).
    accept_all: bool = False
    #: Largest request line plus headers, in bytes (431 beyond it).
    max_header_size: int = 16 * KIB
    #: Most header lines in one request (431 beyond it).
    max_headers: int = 100
    #: Largest request body, in bytes (413 beyond it).
    max_body_size: int = 128 * MIB
    #: Size of the body chunks sent to the worker.
    body_chunk_size: int = 256 * KIB
    #: Largest WebSocket message and frame payload (close 1009 beyond it).
    #: With permessage-deflate, Autobahn also applies them to the compressed
    #: bytes, which for incompressible data are slightly larger, so the server
    #: adds 1/64 + 1 KiB of slack then (see ws_protocol).
    max_message_size: int = 1 * MIB
    max_frame_size: int = 1 * MIB
    #: Seconds a client may take to send a whole request head (slowloris).
    head_timeout: float = 10.0
    #: Seconds an HTTP connection may sit idle (between requests, or mid-body).
    idle_timeout: float = 60.0
    #: Seconds a worker has to start an HTTP response (504 after).
    http_timeout: float = 60.0
    #: Seconds the consumer has to accept or reject a WebSocket (then 504;
    #: 0 or less: no limit).
    connect_timeout: float = 20.0
    #: Seconds a WebSocket may stay open; then it is closed with 1001 (0 or
    #: less: no limit). Daphne's default: clients reconnect once a day, so
    #: sockets spread again over servers added since.
    websocket_timeout: float = 86400.0
    #: The ``Server`` header of HTTP responses and WebSocket handshakes
    #: ("" sends none).
    server_name: str = "channels"
    #: Seconds a shutdown waits for the ``websocket.disconnect`` (and
    #: ``http.disconnect``) messages of the connections it closed to reach
    #: the backend, for the workers to handle.
    application_close_timeout: float = 10.0
    #: Seconds for the WebSocket closing handshake before dropping the socket.
    close_timeout: float = 5.0
    #: Ping interval and pong timeout for WebSocket keep-alive (0 disables).
    ping_interval: float = 20.0
    ping_timeout: float = 30.0
    #: Negotiate permessage-deflate when the client offers it.
    compression: bool = True
    #: Seconds a WebSocket frame may wait on a full channel (then close 1013).
    full_wait: float = 30.0
    #: Most open connections (HTTP and WebSocket); beyond it new ones are refused.
    max_connections: int = 10000
    #: Extra Origin patterns allowed for WebSockets besides ALLOWED_HOSTS
    #: (Django host syntax: "example.com", ".example.com", "*").
    allowed_origins: list[str] = field(default_factory=list)
    #: Hosts Django's ALLOWED_HOSTS names (the default Origin allow-list).
    allowed_hosts: list[str] = field(default_factory=list)
    #: WebSocket subprotocols the server picks from when the consumer names none.
    subprotocols: list[str] = field(default_factory=list)
    #: Honour the proxy headers named by proxy_*_header, from these peers only.
    proxy_headers: bool = False
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    #: Mount point of the application (ASGI ``root_path``).
    root_path: str = ""
    #: Seconds in-flight HTTP responses get to finish on SIGTERM.
    grace_period: float = 10.0
    #: Path of the health endpoint ("" disables it).
    health_path: str = "/__channels__/health"
    #: Threads for the occasional blocking backend call that is not a send
    #: (heartbeats, health checks); sends go through the one sender thread.
    blocking_threads: int = 2
    #: Retry-After seconds on a 503 for a full http.request channel.
    retry_after: int = 2
    #: Seconds between heartbeats for ``channels status`` (0 disables).
    heartbeat_interval: float = 5.0
    #: Headers read with ``proxy_headers`` ("" = not read): the client
    #: address list, its port and the scheme. Name only headers your proxy
    #: sets or overwrites; any other is the client's to write.
    proxy_host_header: str = "X-Forwarded-For"
    proxy_port_header: str = ""
    proxy_proto_header: str = ""
    #: Host names the health endpoint answers for (Django host syntax; empty
    #: = any); other hosts get the path passed on like any request.
    health_hosts: list[str] = field(default_factory=list)
    #: Bytes of one HTTP response held for a client that is not reading it
    #: (the write that filled the socket buffer plus replies taken since);
    #: past it the connection is aborted.
    response_buffer_size: int = 4 * MIB
    #: The same, summed over every response of the process.
    response_buffer_total: int = 128 * MIB
    # What WebSocket clients can make the process hold (docs/security.rst,
    # "WebSocket limits"): per socket, and summed over all sockets.
    #: Decoded message bytes one WebSocket may have waiting for the backend;
    #: past it, its further frames stay undecoded and its reads paused until
    #: they drain (one message being assembled comes on top).
    ws_inbound_buffer: int = 4 * MIB
    #: The same, summed over every WebSocket of the process, messages being
    #: assembled included. Past it no socket decodes another message, and one
    #: in the middle of a message is closed with 1013 (so no message larger
    #: than this can be received: keep it above max_message_size).
    ws_inbound_total: int = 64 * MIB
    #: Bytes one WebSocket may have waiting to be sent once its send buffer is
    #: full (a client that does not read); past it the socket is closed with
    #: 1008, and dropped if it does not read the close frame in close_timeout.
    ws_outbound_buffer: int = 4 * MIB
    #: The same, summed over every WebSocket of the process; past it the socket
    #: holding the most is dropped (1013 to the consumer).
    ws_outbound_total: int = 128 * MIB
