"""What a worker tells operators about itself: heartbeats and probe replies.

Every few seconds the worker records a heartbeat in the backend (the
``channels status`` command lists them) saying how many messages it handled
and how busy it was over the last minute. It also answers latency probes on
:data:`~channels.operations.PROBE_CHANNEL` (``channels latency``) without
involving project code, and, where ``channels.delay`` is installed, warns
while no delay server (``rundelay``, which beats as kind
:data:`~channels.operations.DELAY_SERVER_KIND`) is alive. The records
themselves are defined in :mod:`channels.operations`.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from ..backends.base import BaseChannelBackend
from ..names import random_suffix
from ..operations import (
    DELAY_SERVER_KIND,
    WORKER_KIND,
    heartbeat_record,
    heartbeat_ttl,
    probe_answer,
    process_ident,
)

logger = logging.getLogger("channels.worker")

#: Seconds between heartbeats.
HEARTBEAT_INTERVAL = 5.0
#: Window over which a worker's busy fraction is computed.
BUSY_WINDOW = 60.0


class WorkerHeartbeat:
    """Tracks a worker's load and publishes it to the backend when due.

    ``kind`` names the process in ``channels status`` ("worker", or
    ``"delay"`` for the delay server, which counts the messages it delivers
    as handled).
    """

    def __init__(
        self, backend: BaseChannelBackend, channels: list[str], kind: str = WORKER_KIND
    ) -> None:
        self.backend = backend
        self.channels = channels
        self.kind = kind
        self.ident = process_ident(kind, random_suffix())
        self.started = time.time()
        self.handled = 0
        self._busy: deque[tuple[float, float]] = deque()  # (finished at, seconds busy)
        self._next_beat = 0.0
        self._supported = True

    def consumed(self, seconds: float) -> None:
        """Count one message that kept the worker busy for ``seconds``."""
        self.handled += 1
        self._busy.append((time.monotonic(), seconds))

    def busy_fraction(self) -> float:
        """Share of the last minute (or of the uptime, if shorter) spent in consumers."""
        now = time.monotonic()
        while self._busy and self._busy[0][0] < now - BUSY_WINDOW:
            self._busy.popleft()
        window = min(BUSY_WINDOW, max(time.time() - self.started, 1e-3))
        return min(1.0, sum(seconds for _, seconds in self._busy) / window)

    def beat_if_due(self) -> None:
        """Record a heartbeat if the last one is older than the interval."""
        now = time.monotonic()
        if not self._supported or now < self._next_beat:
            return
        self._next_beat = now + HEARTBEAT_INTERVAL
        record = heartbeat_record(
            self.ident,
            self.kind,
            self.started,
            channels=self.channels,
            handled=self.handled,
            busy=round(self.busy_fraction(), 4),
        )
        try:
            self.backend.record_heartbeat(record, ttl=heartbeat_ttl(HEARTBEAT_INTERVAL))
        except NotImplementedError:
            self._supported = False
            logger.debug(
                "%r keeps no heartbeats; channels status will not list workers", self.backend
            )
        except Exception:
            # A heartbeat is advisory: never let it disturb message handling.
            logger.warning("could not record heartbeat", exc_info=True)

    def answer_probe(self, content: dict) -> None:
        """Reply to a latency probe with this worker's id and the probe's own fields."""
        reply = content.get("reply_channel")
        if not reply:
            return
        try:
            self.backend.send(reply, probe_answer(content, self.ident))
        except Exception:
            logger.warning("could not answer latency probe", exc_info=True)


class DelayServerWatch:
    """Warns while ``channels.delay`` is installed but no delay server beats.

    Messages sent to ``asgi.delay`` otherwise wait unnoticed until they
    expire. The first look is :attr:`FIRST_CHECK` seconds after start (a
    delay server started at the same moment has beaten by then), then every
    :attr:`INTERVAL` seconds: one ``heartbeats()`` read, never per message.
    """

    FIRST_CHECK = heartbeat_ttl(HEARTBEAT_INTERVAL)
    INTERVAL = 300.0

    def __init__(self, backend: BaseChannelBackend) -> None:
        self.backend = backend
        self._next_check = time.monotonic() + self.FIRST_CHECK

    @classmethod
    def if_installed(cls, backend: BaseChannelBackend) -> DelayServerWatch | None:
        """A watch if ``channels.delay`` is in INSTALLED_APPS, else None."""
        from django.apps import apps

        return cls(backend) if apps.is_installed("channels.delay") else None

    def check_if_due(self) -> None:
        """Look for a live delay server if the interval has passed; warn if none."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.INTERVAL
        try:
            alive = any(p.get("kind") == DELAY_SERVER_KIND for p in self.backend.heartbeats())
        except NotImplementedError:
            self._next_check = float("inf")  # this backend keeps no heartbeats
            return
        except Exception:
            logger.debug("could not read heartbeats to look for a delay server", exc_info=True)
            return
        if not alive:
            logger.warning(
                "channels.delay is installed but no delay server is running on %r: messages "
                "sent to asgi.delay wait (and expire) until one does. Run manage.py rundelay.",
                self.backend,
            )
