"""The single-threaded worker loop, and groups of them in threads.

receive -> route -> run consumer -> repeat. A consumer's exception is logged
with its traceback and the loop goes on; ``stop()`` (SIGTERM, SIGINT) lets
the message in hand finish, then ``run()`` returns.

Besides the channels its routing names, every worker serves
:data:`DEFAULT_CHANNELS`, as Channels 1.x did with its default consumers: an
interface server stops reading from *every* socket while one of these
channels is full, so a project that routes only ``websocket.connect`` must
still have its ``websocket.receive`` drained (the dispatcher drops what no
route takes). Hop 4 of the life of a request or frame in
docs/architecture.rst.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Iterable

from ..backends.base import BaseChannelBackend
from ..operations import PROBE_CHANNEL
from ..routing import Router
from ..signals import worker_ready
from .dispatch import DEFAULT_CHANNELS, Dispatcher
from .heartbeat import DelayServerWatch, WorkerHeartbeat
from .metrics import NullWorkerMetrics

logger = logging.getLogger("channels.worker")


class NoChannelsToServe(Exception):
    """The routing (after ``--only-channels``/``--exclude-channels``) names nothing."""


class WorkerThreadFailed(RuntimeError):
    """A thread of a :class:`WorkerGroup` died of an unexpected error."""


def filter_channels(
    channels: Iterable[str],
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[str]:
    """``channels``, sorted, keeping those matching a glob of ``only`` (if
    any) and none of ``exclude``."""
    only, exclude = list(only or []), list(exclude or [])
    chosen = [
        c for c in sorted(channels) if not only or any(fnmatch.fnmatchcase(c, p) for p in only)
    ]
    return [c for c in chosen if not any(fnmatch.fnmatchcase(c, p) for p in exclude)]


def select_channels(
    routed: Iterable[str],
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[str]:
    """The routed channels a worker serves, filtered by glob patterns;
    :class:`NoChannelsToServe` if none is left."""
    routed = sorted(routed)
    chosen = filter_channels(routed, only, exclude)
    if not chosen:
        raise NoChannelsToServe(
            f"no routed channel left to serve (routed: {', '.join(routed) or 'none'}; "
            f"only: {only or 'all'}; exclude: {exclude or 'none'})"
        )
    return chosen


class Worker:
    """Serves the routed channels of one backend until stopped.

    ``watch_delay_server`` makes it warn, every few minutes, while
    ``channels.delay`` is installed and no ``rundelay`` process is alive
    (``runworker`` turns it on for one worker per process).
    """

    def __init__(
        self,
        backend: BaseChannelBackend,
        router: Router,
        only_channels: Iterable[str] | None = None,
        exclude_channels: Iterable[str] | None = None,
        metrics: NullWorkerMetrics | None = None,
        watch_delay_server: bool = False,
    ) -> None:
        self.backend = backend
        self.router = router
        self.channels = select_channels(
            router.channels | set(DEFAULT_CHANNELS), only_channels, exclude_channels
        )
        self.metrics = metrics or NullWorkerMetrics()
        self.dispatcher = Dispatcher(backend, router, metrics=self.metrics, sender=type(self))
        self.heartbeat = WorkerHeartbeat(backend, self.channels)
        self.delay_watch = DelayServerWatch.if_installed(backend) if watch_delay_server else None
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

    def ready(self) -> None:
        """Send ``worker_ready`` (call once, before :meth:`run`)."""
        worker_ready.send(sender=self)

    def run(self) -> None:
        """Serve messages until :meth:`stop` is called."""
        logger.info("worker serving %s", ", ".join(self.channels))
        while not self._stopping.is_set():
            self.heartbeat.beat_if_due()
            if self.delay_watch is not None:
                self.delay_watch.check_if_due()
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


class WorkerGroup:
    """``runworker --threads N``: N workers in threads of one process.

    They share the backend and the router (Django's view handler is shared
    across threads as in any threaded WSGI server); each has its own
    database connections and heartbeat. ``run()`` returns once every thread
    has finished; if one dies of an unexpected error the others are stopped
    and ``run()`` raises, so a supervisor restarts the process.
    """

    def __init__(
        self,
        backend: BaseChannelBackend,
        router: Router,
        threads: int,
        only_channels: Iterable[str] | None = None,
        exclude_channels: Iterable[str] | None = None,
        metrics: NullWorkerMetrics | None = None,
        watch_delay_server: bool = False,
    ) -> None:
        if threads < 1:
            raise ValueError(f"a worker group needs at least one thread, not {threads}")
        self.workers = [
            Worker(
                backend,
                router,
                only_channels,
                exclude_channels,
                metrics=metrics,
                watch_delay_server=watch_delay_server and index == 0,
            )
            for index in range(threads)
        ]
        self.backend = backend
        self.channels = self.workers[0].channels
        self._failed: list[str] = []

    @property
    def handled(self) -> int:
        """Messages handled so far by every thread."""
        return sum(worker.handled for worker in self.workers)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self.workers[0].stopping

    def ready(self) -> None:
        """Send ``worker_ready`` for each worker."""
        for worker in self.workers:
            worker.ready()

    def stop(self) -> None:
        """Ask every thread to return after its message in hand (thread-safe)."""
        for worker in self.workers:
            worker.stop()

    def run(self) -> None:
        """Run every worker in a thread of its own until stopped."""
        threads = [
            # Daemon threads: a second SIGINT (sys.exit in the main thread)
            # must end the process without waiting for consumers in hand.
            threading.Thread(
                target=self._run_one, args=(worker,), name=f"channels-worker-{n}", daemon=True
            )
            for n, worker in enumerate(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            # A timeout keeps the main thread responsive to signals.
            while thread.is_alive():
                thread.join(timeout=0.5)
        if self._failed:
            raise WorkerThreadFailed(f"worker thread(s) failed: {', '.join(self._failed)}")

    def _run_one(self, worker: Worker) -> None:
        name = threading.current_thread().name
        try:
            worker.run()
        except BaseException:
            logger.exception("worker thread %s died; stopping the others", name)
            self._failed.append(name)
            self.stop()
