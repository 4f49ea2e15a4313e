"""The delay server loop (``manage.py rundelay``).

Each turn: wait on ``asgi.delay`` until the next pending message is due (at
most :attr:`DelayServer.MAX_WAIT`), store what arrives as a
:class:`~channels.delay.models.DelayedMessage` row, then send every row that
is due. A request is a message with three keys:

``channel``
    the channel to deliver to (a valid channel name);
``content``
    the message to deliver there (a dict);
``delay``
    milliseconds to wait, a number from 0 to :data:`MAX_DELAY_MS`.

Anything else is dropped with one log line saying what was wrong.

Delivery: a due row is deleted and its message sent in one database
transaction, so a row is sent by exactly one delay server however many run,
and a message whose channel is full stays and is retried each turn until the
backend's ``EXPIRY`` has passed since it was due (then it is dropped with an
error, as it would have expired in the channel anyway). A delay server killed
between the send and the commit sends that message again when it restarts.

Bounds: at most ``max_pending`` rows wait at once (further requests are
refused with an error line), each at most ``MAX_MESSAGE_SIZE`` as any message.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from ..backends.base import BaseChannelBackend
from ..exceptions import (
    ChannelError,
    ChannelFull,
    InvalidChannelName,
    InvalidMessage,
    MessageTooLarge,
)
from ..names import validate_channel_name
from ..serialization import decode, encode
from ..workers.heartbeat import DELAY_SERVER_KIND, WorkerHeartbeat
from .models import DelayedMessage

logger = logging.getLogger("channels.delay")

#: The channel delay requests are sent to (ASGI delay protocol).
DELAY_CHANNEL = "asgi.delay"
#: Longest delay accepted: ten years, in milliseconds.
MAX_DELAY_MS = 10 * 366 * 24 * 3600 * 1000
#: Rows pending at once unless ``rundelay --max-pending`` says otherwise.
DEFAULT_MAX_PENDING = 100_000


class InvalidDelayRequest(ValueError):
    """A message on ``asgi.delay`` that is not a valid delay request."""


def parse_request(request: dict) -> tuple[str, dict, float]:
    """``(channel, content, delay in ms)`` of a delay request, or raise
    :class:`InvalidDelayRequest` saying what is wrong."""
    missing = [key for key in ("channel", "content", "delay") if key not in request]
    if missing:
        raise InvalidDelayRequest(f"missing key(s) {', '.join(missing)}")
    channel, content, delay = request["channel"], request["content"], request["delay"]
    try:
        validate_channel_name(channel)
    except ChannelError as exc:
        raise InvalidDelayRequest(f"'channel': {exc}") from exc
    if not isinstance(content, dict):
        raise InvalidDelayRequest(f"'content' must be a dict, not {type(content).__name__}")
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or not 0 <= delay <= MAX_DELAY_MS
    ):
        raise InvalidDelayRequest(
            f"'delay' must be a number of milliseconds from 0 to {MAX_DELAY_MS}, not {delay!r:.40}"
        )
    return channel, content, delay


class DelayServer:
    """Stores delay requests and sends them when due, until :meth:`stop`."""

    #: Longest blocking wait on ``asgi.delay``: also how late a row stored by
    #: another delay server can be noticed.
    MAX_WAIT = 1.0
    #: Due rows sent per turn (a backlog after downtime goes out in batches).
    BATCH = 500

    def __init__(self, backend: BaseChannelBackend, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.backend = backend
        self.max_pending = max_pending
        self.heartbeat = WorkerHeartbeat(backend, [DELAY_CHANNEL], kind=DELAY_SERVER_KIND)
        self.db_alias = router.db_for_write(DelayedMessage)
        self._pending: int | None = None  # None: count the table
        self._full_warned: set[int] = set()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current turn (thread-safe)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def run(self) -> None:
        """Serve until stopped; a backend or database outage is logged and waited out."""
        logger.info("delay server on %r", self.backend)
        while not self._stopping.is_set():
            self.heartbeat.beat_if_due()
            try:
                self.run_once()
            except (ChannelError, DatabaseError):
                logger.exception("delay server turn failed; retrying")
                self._forget_connection()
                self._pending = None
                self._stopping.wait(1.0)

    def run_once(self) -> None:
        """One turn: send what is due, or else wait for one request until the
        next row is due and store it."""
        next_due = self._earliest_due()
        now = timezone.now()
        if next_due is not None and next_due <= now:
            self.send_due(now)
            return
        wait = self.MAX_WAIT
        if next_due is not None:
            wait = min(wait, (next_due - now).total_seconds())
        channel, request = self.backend.receive_many([DELAY_CHANNEL], block=True, timeout=wait)
        if channel is not None:
            self.store(request)

    def store(self, request: dict) -> DelayedMessage | None:
        """Keep a valid request as a row; log and drop an invalid one."""
        try:
            channel, content, delay = parse_request(request)
            data = encode(content)
        except (InvalidDelayRequest, ChannelError) as exc:
            logger.error("dropped a message on %s: %s", DELAY_CHANNEL, exc)
            return None
        if self._pending_count() >= self.max_pending:
            logger.error(
                "dropped a message on %s for %s: %d delayed messages are already pending "
                "(rundelay --max-pending)",
                DELAY_CHANNEL,
                channel,
                self.max_pending,
            )
            return None
        due = timezone.now() + timedelta(milliseconds=delay)
        row = DelayedMessage.objects.using(self.db_alias).create(
            due_date=due, channel_name=channel, content=data
        )
        self._pending = (self._pending or 0) + 1
        return row

    def send_due(self, now: datetime | None = None) -> int:
        """Send the rows due by ``now`` (oldest first, at most :attr:`BATCH`);
        return how many were sent."""
        now = now or timezone.now()
        rows = DelayedMessage.objects.using(self.db_alias).filter(due_date__lte=now)
        due = rows.order_by("due_date", "id")[: self.BATCH]
        return sum(self._send_row(row, now) for row in due)

    def _send_row(self, row: DelayedMessage, now: datetime) -> int:
        started = time.perf_counter()
        try:
            # The DELETE comes first, so the transaction writes at once (no
            # read-then-write lock upgrade on SQLite) and, on PostgreSQL, a
            # second delay server deleting the same row waits and deletes none.
            with transaction.atomic(using=self.db_alias):
                claimed = DelayedMessage.objects.using(self.db_alias).filter(pk=row.pk).delete()
                if not claimed[0]:
                    return 0  # another delay server sent it
                self.backend.send(row.channel_name, decode(row.content))
        except ChannelFull:
            return self._channel_full(row, now)
        except (InvalidChannelName, InvalidMessage, MessageTooLarge) as exc:
            # The backend refuses this message for good: retrying cannot help.
            self._drop(row, str(exc))
            return 0
        self._pending = None if self._pending is None else max(0, self._pending - 1)
        self._full_warned.discard(row.pk)
        self.heartbeat.consumed(time.perf_counter() - started)
        return 1

    def _channel_full(self, row: DelayedMessage, now: datetime) -> int:
        """Keep the row for the next turn, until the backend's EXPIRY has passed."""
        if (now - row.due_date).total_seconds() > self.backend.expiry:
            self._drop(
                row,
                f"the channel stayed full for longer than the backend's EXPIRY "
                f"({self.backend.expiry} s)",
            )
        elif row.pk not in self._full_warned:
            self._full_warned.add(row.pk)
            logger.warning(
                "channel %s is full; the delayed message due at %s waits and is retried",
                row.channel_name,
                row.due_date.isoformat(),
            )
        return 0

    def _drop(self, row: DelayedMessage, reason: str) -> None:
        DelayedMessage.objects.using(self.db_alias).filter(pk=row.pk).delete()
        self._pending = None
        self._full_warned.discard(row.pk)
        logger.error(
            "dropped the delayed message for %s due at %s: %s",
            row.channel_name,
            row.due_date.isoformat(),
            reason,
        )

    def _earliest_due(self) -> datetime | None:
        # One indexed query per turn (at most every MAX_WAIT seconds when idle),
        # so rows stored by another delay server are seen too.
        rows = DelayedMessage.objects.using(self.db_alias).order_by("due_date")
        return rows.values_list("due_date", flat=True).first()

    def _pending_count(self) -> int:
        if self._pending is None:
            self._pending = DelayedMessage.objects.using(self.db_alias).count()
        return self._pending

    def _forget_connection(self) -> None:
        try:
            connections[self.db_alias].close()
        except DatabaseError:
            pass  # broken already; Django reconnects on next use
