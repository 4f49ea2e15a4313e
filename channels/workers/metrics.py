"""Prometheus metrics of a worker (``runworker --metrics-port``).

Optional: ``prometheus_client`` is needed only when metrics are turned on
(``pip install channels[metrics]``). With metrics off the worker holds a
:class:`NullWorkerMetrics`, whose methods do nothing, so the message loop
pays one no-op call per message.

Metrics, all in one registry of their own (served with the process
collectors, so ``process_cpu_seconds_total`` and friends come too):

``channels_worker_messages_total{channel, outcome}``
    messages handled; outcome is ``ok``, ``error`` (the consumer raised),
    ``unrouted`` (no route matched), ``requeued`` (``ConsumeLater``) or
    ``denied`` (``DenyConnection``).
``channels_worker_consumer_seconds{channel}``
    time spent in the consumer (histogram).
``channels_worker_probe_wait_seconds``
    time from a latency probe's send to its receive by this worker
    (histogram). Channel messages carry no send timestamp in the wire format,
    so the queue wait of real messages cannot be measured at the worker;
    probes do carry one and are served after every real channel is empty, so
    this is an upper bound of how long work waits for a free worker. The
    oldest waiting message per channel is shown by ``channels status``.
``channels_worker_probes_total``
    latency probes answered.
"""

from __future__ import annotations

import time

from ..metrics import PrometheusMetrics

#: Histogram buckets in seconds: sub-millisecond consumers to slow ones.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

OUTCOMES = ("ok", "error", "unrouted", "requeued", "denied")


class NullWorkerMetrics:
    """Metrics turned off: every method is a no-op."""

    enabled = False

    def handled(self, channel: str, outcome: str, seconds: float | None) -> None:
        """Count one message (no-op)."""

    def probe(self, content: dict) -> None:
        """Count one latency probe (no-op)."""


class WorkerMetrics(PrometheusMetrics, NullWorkerMetrics):
    """The worker's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        super().__init__()
        prometheus = self.prometheus
        self.messages = prometheus.Counter(
            "channels_worker_messages",
            "Messages handled by this worker, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.consumer_seconds = prometheus.Histogram(
            "channels_worker_consumer_seconds",
            "Seconds spent running consumers, by channel.",
            ["channel"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.probe_wait = prometheus.Histogram(
            "channels_worker_probe_wait_seconds",
            "Seconds from a latency probe's send to its receive by this worker "
            "(an upper bound of how long work waits for a free worker).",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.probes = prometheus.Counter(
            "channels_worker_probes",
            "Latency probes answered by this worker.",
            registry=self.registry,
        )

    def handled(self, channel: str, outcome: str, seconds: float | None) -> None:
        """Count one message; observe its consumer time if a consumer ran."""
        self.messages.labels(channel, outcome).inc()
        if seconds is not None:
            self.consumer_seconds.labels(channel).observe(seconds)

    def probe(self, content: dict) -> None:
        """Count one latency probe and observe how long it waited."""
        self.probes.inc()
        sent = content.get("sent")
        if isinstance(sent, int | float) and not isinstance(sent, bool):
            # Wall clocks of sender and worker may differ (other hosts).
            self.probe_wait.observe(max(0.0, time.time() - sent))
