"""What every long-running channels command sets up the same way: logging to
stderr and the optional Prometheus endpoint's arguments."""

from __future__ import annotations

import logging
import sys
from argparse import ArgumentParser


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
