"""Prometheus metrics of an interface server (``runwsserver --metrics-port``).

Optional: ``prometheus_client`` is needed only when metrics are turned on
(``pip install channels[metrics]``). With metrics off the server holds a
:class:`NullInterfaceMetrics`: its methods do nothing and
:meth:`~NullInterfaceMetrics.wrap_send` hands the backend's ``send`` back
unwrapped, so the send path costs nothing extra.

Metrics, in one registry of their own (served with the process collectors):

``channels_interface_connections{kind}``
    open connections, ``kind`` is ``websocket`` or ``http`` (gauge).
``channels_interface_http_in_flight``
    HTTP requests relayed to workers and not yet answered (gauge).
``channels_interface_http_responses_total{status}``
    HTTP responses by status code: 503 is back-pressure (a full
    ``http.request`` channel), 504 a worker that did not answer in time.
``channels_interface_websocket_refused_total{status}``
    WebSocket handshakes refused: 403 (Origin or the consumer said no),
    503 (``websocket.connect`` full or backend down), 504 (no answer in time).
``channels_interface_messages_sent_total{channel}``
    messages sent to the backend (body chunk channels counted as
    ``http.request.body``).
``channels_interface_channel_full_total{channel}``
    sends refused with ``ChannelFull`` (WebSocket frames are retried, so one
    frame may count several times).
``channels_interface_send_seconds``
    how long one backend ``send`` took (histogram).
``channels_interface_replies_total{outcome}``
    messages received from the process inbox: ``delivered`` to a connection,
    or ``dropped`` because it had gone.
``channels_interface_http_aborted_total{reason}``
    HTTP connections the server aborted mid-response: ``slow client`` (it
    read too little of its response; see ``--response-buffer-size``).
``channels_interface_http_held_bytes``
    bytes of HTTP responses kept for clients that are not reading (gauge;
    bounded by ``--response-buffer-total``).
``channels_interface_websocket_limit_closes_total{limit}``
    WebSockets closed because of a memory bound (docs/security.rst):
    ``outbound_buffer`` (a client not reading, 1008), ``outbound_total``
    (dropped, the largest of all send buffers), ``inbound_total`` (1013 mid
    message), ``message_size`` (1009 once decompressed).
``channels_interface_websocket_buffered_bytes{direction}``
    bytes all WebSockets hold: ``inbound`` (decoded messages waiting for the
    backend) and ``outbound`` (waiting for clients that do not read) (gauge).
"""

from __future__ import annotations

import time
from typing import Any

from ..exceptions import ChannelFull
from ..metrics import PrometheusMetrics
from .backend_io.sender_thread import SendEncodedMany

#: Buckets for backend send latency, in seconds.
SEND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)

#: The memory bounds that close WebSockets (label values of ws_limit_closes).
WEBSOCKET_LIMITS = ("outbound_buffer", "outbound_total", "inbound_total", "message_size")

_KNOWN_CHANNELS = frozenset(
    ["http.request", "websocket.connect", "websocket.receive", "websocket.disconnect"]
)


def channel_label(channel: str) -> str:
    """A bounded label for ``channel``: per-request body channels share one."""
    if channel in _KNOWN_CHANNELS:
        return channel
    if channel.startswith("http.request.body"):
        return "http.request.body"
    return "other"


class NullInterfaceMetrics:
    """Metrics turned off: every method is a no-op."""

    enabled = False

    def watch(self, server: Any) -> None:
        """Read gauges from ``server`` at scrape time (no-op)."""

    def wrap_send_many(self, send_many: SendEncodedMany) -> SendEncodedMany:
        """The backend's ``send_many`` as is."""
        return send_many

    def http_response(self, status: int) -> None:
        """Count one HTTP response (no-op)."""

    def websocket_refused(self, status: int) -> None:
        """Count one refused WebSocket handshake (no-op)."""

    def reply(self, delivered: bool) -> None:
        """Count one message from the inbox (no-op)."""

    def http_aborted(self, reason: str) -> None:
        """Count one HTTP connection aborted mid-response (no-op)."""

    def websocket_limit_closed(self, limit: str) -> None:
        """Count one WebSocket closed by a memory bound (no-op)."""


class InterfaceMetrics(PrometheusMetrics, NullInterfaceMetrics):
    """The interface server's Prometheus metrics."""

    def __init__(self) -> None:
        super().__init__()
        prometheus = self.prometheus
        r = self.registry
        self.connections = prometheus.Gauge(
            "channels_interface_connections", "Open connections.", ["kind"], registry=r
        )
        self.in_flight = prometheus.Gauge(
            "channels_interface_http_in_flight",
            "HTTP requests relayed to workers and not yet answered.",
            registry=r,
        )
        self.responses = prometheus.Counter(
            "channels_interface_http_responses",
            "HTTP responses by status code (503: channel full, 504: worker timeout).",
            ["status"],
            registry=r,
        )
        self.ws_refused = prometheus.Counter(
            "channels_interface_websocket_refused",
            "WebSocket handshakes refused, by HTTP status.",
            ["status"],
            registry=r,
        )
        self.sent = prometheus.Counter(
            "channels_interface_messages_sent",
            "Messages sent to the channel backend.",
            ["channel"],
            registry=r,
        )
        self.full = prometheus.Counter(
            "channels_interface_channel_full",
            "Sends refused because the channel was full.",
            ["channel"],
            registry=r,
        )
        self.send_seconds = prometheus.Histogram(
            "channels_interface_send_seconds",
            "Seconds one backend send took.",
            buckets=SEND_BUCKETS,
            registry=r,
        )
        self.replies = prometheus.Counter(
            "channels_interface_replies",
            "Messages received from the process inbox, delivered or dropped.",
            ["outcome"],
            registry=r,
        )
        # Export both label values from the start, at zero.
        for outcome in ("delivered", "dropped"):
            self.replies.labels(outcome)
        self.aborted = prometheus.Counter(
            "channels_interface_http_aborted",
            "HTTP connections aborted mid-response, by reason.",
            ["reason"],
            registry=r,
        )
        self.aborted.labels("slow client")
        self.held = prometheus.Gauge(
            "channels_interface_http_held_bytes",
            "Bytes of HTTP responses kept for clients that are not reading.",
            registry=r,
        )
        self.ws_limit_closes = prometheus.Counter(
            "channels_interface_websocket_limit_closes",
            "WebSockets closed because of a memory bound, by bound.",
            ["limit"],
            registry=r,
        )
        for limit in WEBSOCKET_LIMITS:
            self.ws_limit_closes.labels(limit)
        self.ws_buffered = prometheus.Gauge(
            "channels_interface_websocket_buffered_bytes",
            "Bytes all WebSockets hold: inbound (waiting for the backend), "
            "outbound (waiting for clients).",
            ["direction"],
            registry=r,
        )

    def watch(self, server: Any) -> None:
        """Read the connection gauges from ``server``'s counters at scrape time."""
        # The reactor thread keeps these ints; reading one from the scrape
        # thread is atomic, unlike walking the server's sets.
        for kind in ("websocket", "http"):
            self.connections.labels(kind).set_function(
                lambda kind=kind: server.open_connections[kind]
            )
        self.in_flight.set_function(lambda: server.http_in_flight)
        self.held.set_function(lambda: server.held_response_bytes)
        self.ws_buffered.labels("inbound").set_function(lambda: server.inbound_budget.used)
        self.ws_buffered.labels("outbound").set_function(lambda: server.outbound_budget.used)

    def wrap_send_many(self, send_many: SendEncodedMany) -> SendEncodedMany:
        """``send_many`` that counts and times itself (runs in the sender thread).

        Every message of a batch is observed with the batch's duration: that
        is how long it took to be sent.
        """
        sent, full, seconds = self.sent, self.full, self.send_seconds

        def measured_send_many(items):
            started = time.perf_counter()
            results = send_many(items)
            took = time.perf_counter() - started
            for (channel, *_), result in zip(items, results, strict=True):
                seconds.observe(took)
                if result is None:
                    sent.labels(channel_label(channel)).inc()
                elif isinstance(result, ChannelFull):
                    full.labels(channel_label(channel)).inc()
            return results

        return measured_send_many

    def http_response(self, status: int) -> None:
        """Count one HTTP response."""
        self.responses.labels(str(status)).inc()

    def websocket_refused(self, status: int) -> None:
        """Count one refused WebSocket handshake."""
        self.ws_refused.labels(str(status)).inc()

    def reply(self, delivered: bool) -> None:
        """Count one message from the inbox."""
        self.replies.labels("delivered" if delivered else "dropped").inc()

    def http_aborted(self, reason: str) -> None:
        """Count one HTTP connection aborted mid-response."""
        self.aborted.labels(reason).inc()

    def websocket_limit_closed(self, limit: str) -> None:
        """Count one WebSocket closed by a memory bound (one of WEBSOCKET_LIMITS)."""
        self.ws_limit_closes.labels(limit).inc()
