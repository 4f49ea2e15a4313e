"""The single-threaded worker loop.

receive -> route -> run consumer -> repeat. A consumer's exception is logged
with its traceback and the loop goes on; ``stop()`` (SIGTERM, SIGINT) lets
the message in hand finish, then ``run()`` returns.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Iterable

from ..backends.base import BaseChannelBackend
from ..routing import Router
from .dispatch import Dispatcher
from .heartbeat import PROBE_CHANNEL, WorkerHeartbeat
from .metrics import NullWorkerMetrics

logger = logging.getLogger("channels.worker")


class NoChannelsToServe(Exception):
    """The routing (after ``--only-channels``/``--exclude-channels``) names nothing."""


def select_channels(
    routed: Iterable[str],
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[str]:
    """The routed channels a worker serves, filtered by glob patterns."""
    routed = sorted(routed)
    only, exclude = list(only or []), list(exclude or [])
    chosen = [c for c in routed if not only or any(fnmatch.fnmatchcase(c, p) for p in only)]
    chosen = [c for c in chosen if not any(fnmatch.fnmatchcase(c, p) for p in exclude)]
    if not chosen:
        raise NoChannelsToServe(
            f"no routed channel left to serve (routed: {', '.join(routed) or 'none'}; "
            f"only: {only or 'all'}; exclude: {exclude or 'none'})"
        )
    return chosen


class Worker:
    """Serves the routed channels of one backend until stopped."""

    def __init__(
        self,
        backend: BaseChannelBackend,
        router: Router,
        only_channels: Iterable[str] | None = None,
        exclude_channels: Iterable[str] | None = None,
        metrics: NullWorkerMetrics | None = None,
    ) -> None:
        self.backend = backend
        self.router = router
        self.channels = select_channels(router.channels, only_channels, exclude_channels)
        self.metrics = metrics or NullWorkerMetrics()
        self.dispatcher = Dispatcher(backend, router, metrics=self.metrics)
        self.heartbeat = WorkerHeartbeat(backend, self.channels)
        # Probes come last so they never jump the queue of real work.
        self._receive_from = [*self.channels, PROBE_CHANNEL]
        self._stopping = threading.Event()

    @property
    def handled(self) -> int:
        """Messages handled so far."""
        return self.heartbeat.handled

    def stop(self) -> None:
        """Ask the loop to return after the message in hand (thread-safe)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def run(self) -> None:
        """Serve messages until :meth:`stop` is called."""
        logger.info("worker serving %s", ", ".join(self.channels))
        while not self._stopping.is_set():
            self.heartbeat.beat_if_due()
            self.run_once(block=True)
        logger.info("worker stopped after %d messages", self.handled)

    def run_once(self, block: bool = False) -> bool:
        """Receive and handle at most one message; return whether one came."""
        try:
            channel, content = self.backend.receive_many(self._receive_from, block=block)
        except Exception:
            # A backend outage must not kill the worker: log, pause, go on.
            logger.exception("receiving from %r failed; retrying", self.backend)
            self._stopping.wait(1.0)
            return False
        if channel is None:
            return False
        if channel == PROBE_CHANNEL:
            self.metrics.probe(content)
            self.heartbeat.answer_probe(content)
            return True
        self.handle(channel, content)
        return True

    def handle(self, channel: str, content: dict) -> None:
        """Route one message and run its consumer, logging any failure."""
        elapsed = self.dispatcher.handle(channel, content)
        if elapsed is not None:
            self.heartbeat.consumed(elapsed)
