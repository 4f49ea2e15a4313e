"""The single-threaded worker loop.

receive -> route -> run consumer -> repeat. A consumer's exception is logged
with its traceback and the loop goes on; ``stop()`` (SIGTERM, SIGINT) lets
the message in hand finish, then ``run()`` returns.
"""

from __future__ import annotations

import fnmatch
import inspect
import logging
import threading
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from django.db import close_old_connections

from ..backends.base import BaseChannelBackend
from ..exceptions import ChannelSocketException, ConsumeLater, DenyConnection
from ..message import Message
from ..outbox import Outbox
from ..routing import Router
from .heartbeat import PROBE_CHANNEL, WorkerHeartbeat

logger = logging.getLogger("channels.worker")

#: How many times a message may be put back with ``ConsumeLater``.
CONSUME_LATER_LIMIT = 50
#: Key in a requeued message's content that counts its ``ConsumeLater`` turns.
RETRIES_KEY = "__retries__"


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
    ) -> None:
        self.backend = backend
        self.router = router
        self.channels = select_channels(router.channels, only_channels, exclude_channels)
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
            self.heartbeat.answer_probe(content)
            return True
        self.handle(channel, content)
        return True

    def handle(self, channel: str, content: dict) -> None:
        """Route one message and run its consumer, logging any failure."""
        message = Message(content, channel, self.backend)
        found = self.router.match(message)
        if found is None:
            self.handle_unrouted(message)
            return
        consumer, kwargs = found
        started = time.perf_counter()
        close_old_connections()
        try:
            with Outbox():
                run_consumer(consumer, message, kwargs)
        except ConsumeLater:
            self.requeue(message)
        except DenyConnection:
            self.deny(message)
        except ChannelSocketException as exc:
            exc.run(message)
        except Exception:
            logger.exception("consumer %s raised on %s", _name(consumer), channel)
        finally:
            close_old_connections()
            elapsed = time.perf_counter() - started
            self.heartbeat.consumed(elapsed)
        logger.debug(
            "%s %s -> %s in %.1f ms",
            channel,
            content.get("path", ""),
            _name(consumer),
            elapsed * 1000,
        )

    def handle_unrouted(self, message: Message) -> None:
        """No route matched: accept a WebSocket (Channels 1.x default), else log."""
        if message.channel.name == "websocket.connect" and message.reply_channel:
            message.reply_channel.send({"accept": True}, immediately=True)
            return
        logger.warning(
            "no route matches message on %s (path=%r); dropped",
            message.channel.name,
            message.content.get("path"),
        )

    def deny(self, message: Message) -> None:
        """``DenyConnection``: close the socket (the server answers 403)."""
        if message.reply_channel is None:
            logger.error("DenyConnection raised for a message without reply_channel")
            return
        message.reply_channel.send({"close": True}, immediately=True)

    def requeue(self, message: Message) -> None:
        """``ConsumeLater``: put the message back at the end of its channel."""
        content = dict(message.content)
        content[RETRIES_KEY] = content.get(RETRIES_KEY, 0) + 1
        if content[RETRIES_KEY] > CONSUME_LATER_LIMIT:
            logger.error(
                "message on %s dropped: ConsumeLater raised %d times",
                message.channel.name,
                CONSUME_LATER_LIMIT,
            )
            return
        try:
            self.backend.send(message.channel.name, content)
        except Exception:
            logger.exception("could not requeue message on %s", message.channel.name)


def run_consumer(consumer, message: Message, kwargs: dict) -> None:
    """Call a consumer, running an ``async def`` one to completion."""
    # A class-based consumer may define ``async def __call__``.
    call = consumer if inspect.isfunction(consumer) else type(consumer).__call__
    if inspect.iscoroutinefunction(consumer) or inspect.iscoroutinefunction(call):
        async_to_sync(consumer)(message, **kwargs)
    else:
        consumer(message, **kwargs)


def _name(consumer) -> str:
    return getattr(consumer, "__qualname__", None) or type(consumer).__qualname__
