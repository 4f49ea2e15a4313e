"""``channels.worker``: the Channels 1.x worker classes, over :mod:`channels.workers`.

A 1.x project that runs a worker itself (a custom command, a test) wrote::

    from channels import channel_layers
    from channels.worker import Worker

    worker = Worker(channel_layer=channel_layers["default"], signal_handlers=False)
    worker.ready()
    worker.run()          # until worker.termed = True, or SIGTERM

That works unchanged: the worker routes with ``channel_layer.router`` (the
alias's ROUTING plus the default routes), serves the default WebSocket
channels as ``runworker`` does, sends the same signals, and calls
``callback(channel, message)`` before each message as 1.x did.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable

from .backends.base import BaseChannelBackend
from .message import Message
from .workers import worker as workers

__all__ = ["Worker", "WorkerGroup"]

logger = logging.getLogger("channels.worker")


class Worker(workers.Worker):
    """A worker built the Channels 1.x way, from a channel layer (backend)."""

    def __init__(
        self,
        channel_layer: BaseChannelBackend,
        callback: Callable | None = None,
        message_retries: int = 10,
        signal_handlers: bool = True,
        only_channels: Iterable[str] | None = None,
        exclude_channels: Iterable[str] | None = None,
    ) -> None:
        self.only_channels = list(only_channels or [])
        self.exclude_channels = list(exclude_channels or [])
        super().__init__(channel_layer, channel_layer.router, only_channels, exclude_channels)
        self.channel_layer = channel_layer
        self.callback = callback
        self.signal_handlers = signal_handlers
        self.dispatcher.consume_later_limit = message_retries

    @property
    def termed(self) -> bool:
        """Whether the worker was asked to stop (1.x name; set it True to stop)."""
        return self.stopping

    @termed.setter
    def termed(self, value: bool) -> None:
        if value:
            self.stop()

    def apply_channel_filters(self, channels: Iterable[str]) -> list[str]:
        """``channels`` filtered by this worker's ``only_channels``/``exclude_channels``."""
        return workers.filter_channels(channels, self.only_channels, self.exclude_channels)

    def install_signal_handler(self) -> None:
        """Stop after the message in hand on SIGTERM or SIGINT (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.sigterm_handler)
            signal.signal(signal.SIGINT, self.sigterm_handler)

    def sigterm_handler(self, signo: int, stack_frame) -> None:
        """Finish the message in hand, then let :meth:`run` return."""
        logger.info("Shutdown signal received by worker %s, terminating", os.getpid())
        self.stop()

    def run(self) -> None:
        """Serve messages until stopped, with 1.x's signal handlers if asked."""
        if self.signal_handlers:
            self.install_signal_handler()
        super().run()

    def handle(self, channel: str, content: dict) -> None:
        """Call ``callback(channel, message)``, then route and run the message."""
        if self.callback is not None:
            self.callback(channel, Message(content, channel, self.backend))
        super().handle(channel, content)


class WorkerGroup(workers.WorkerGroup):
    """Channels 1.x ``WorkerGroup``: ``n_threads`` workers in one process."""

    def __init__(
        self,
        channel_layer: BaseChannelBackend,
        n_threads: int | None = None,
        signal_handlers: bool = True,
        only_channels: Iterable[str] | None = None,
        exclude_channels: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            channel_layer,
            channel_layer.router,
            n_threads or os.cpu_count() or 1,
            only_channels,
            exclude_channels,
        )
        self.channel_layer = channel_layer
        self.signal_handlers = signal_handlers

    def run(self) -> None:
        """Run every thread until stopped (SIGTERM/SIGINT with ``signal_handlers``)."""
        if self.signal_handlers and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda signo, frame: self.stop())
        super().run()
