"""What worker and interface-server metrics share: the optional
``prometheus_client`` import, a registry per process, and its HTTP endpoint.

The metrics themselves are in :mod:`channels.workers.metrics` and
:mod:`channels.interfaces.metrics`.
"""

from __future__ import annotations

from typing import Any


class MetricsUnavailable(Exception):
    """Metrics were asked for but ``prometheus_client`` is not installed."""


def import_prometheus() -> Any:
    """The ``prometheus_client`` module, or :class:`MetricsUnavailable`."""
    try:
        import prometheus_client
    except ImportError as exc:
        raise MetricsUnavailable(
            "metrics need the prometheus_client package: pip install 'channels[metrics]'"
        ) from exc
    return prometheus_client


def new_registry() -> Any:
    """A registry of its own, with the process and platform collectors
    (so ``process_cpu_seconds_total`` and friends are served too)."""
    prometheus = import_prometheus()
    registry = prometheus.CollectorRegistry()
    prometheus.ProcessCollector(registry=registry)
    prometheus.PlatformCollector(registry=registry)
    return registry


class PrometheusMetrics:
    """Base of the enabled metrics classes: a registry and its endpoint."""

    enabled = True

    def __init__(self) -> None:
        self.prometheus = import_prometheus()
        self.registry = new_registry()

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        """Serve ``/metrics`` on ``addr:port`` from a daemon thread."""
        return self.prometheus.start_http_server(port, addr=addr, registry=self.registry)
