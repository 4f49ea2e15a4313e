"""What every long-running channels command sets up the same way: logging to
stderr, the optional Prometheus endpoint's arguments, and stopping on
SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
from argparse import ArgumentParser
from typing import Any, Protocol

from django.core.management.base import BaseCommand, CommandError

from ..metrics import MetricsUnavailable


def configure_logging(verbosity: int) -> None:
    """Log ``channels.*`` to stderr: warnings at -v 0, info at 1, debug from 2.

    At -v 2 a worker logs one line per message.
    """
    logger = logging.getLogger("channels")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))


def add_backend_argument(parser: ArgumentParser) -> None:
    """``--backend ALIAS`` (``--layer``, its Channels 1.x name)."""
    from channels.backends.registry import DEFAULT_CHANNEL_BACKEND

    parser.add_argument(
        "--backend",
        "--layer",
        dest="alias",
        default=DEFAULT_CHANNEL_BACKEND,
        help="Alias in CHANNEL_BACKENDS to use (default: %(default)s).",
    )


def add_metrics_arguments(parser: ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-addr``."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="Serve Prometheus metrics at http://ADDR:PORT/metrics "
        "(needs prometheus_client: pip install 'channels[metrics]').",
    )
    parser.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="Address the metrics endpoint listens on (default: %(default)s).",
    )


def start_metrics(
    command: BaseCommand, metrics_class: type, null_class: type, port: int | None, addr: str | None
) -> Any:
    """``metrics_class()`` served on ``addr:port``, or ``null_class()`` without a port.

    A missing ``prometheus_client`` or a port that cannot be bound is a
    :class:`CommandError` naming the problem.
    """
    if port is None:
        return null_class()
    addr = addr or "127.0.0.1"
    try:
        metrics = metrics_class()
        metrics.serve(port, addr)
    except MetricsUnavailable as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"cannot serve metrics on {addr}:{port}: {exc}") from exc
    command.stdout.write(f"Metrics on http://{addr}:{port}/metrics")
    return metrics


class Stoppable(Protocol):
    """A loop that finishes its turn and returns once asked to stop."""

    @property
    def stopping(self) -> bool: ...

    def stop(self) -> None: ...


def stop_on_signals(loop: Stoppable, logger: logging.Logger, doing: str) -> None:
    """SIGTERM or SIGINT asks ``loop`` to stop (logging ``doing``); a second
    signal exits at once with status 1 (the operator wants out now)."""

    def request_stop(signum: int, frame: Any) -> None:
        if loop.stopping:
            sys.exit(1)
        logger.info("%s: %s", signal.Signals(signum).name, doing)
        loop.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
