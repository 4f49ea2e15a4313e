"""Running one message: route it, run its consumer, answer its failures.

The worker loop and the test client share this, so a test sees exactly what
a worker does: consumer atomicity (the outbox), ``ConsumeLater``,
``DenyConnection``, ``ChannelSocketException``, async consumers, the
``consumer_started``/``consumer_finished`` signals, the replies sent when a
consumer fails, and the Channels 1.x defaults for WebSocket messages no
route takes. Hop 5 of the life of a request or frame in
docs/architecture.rst.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

from ..backends.base import BaseChannelBackend
from ..consumer_call import call_consumer
from ..exceptions import ChannelSocketException, ConsumeLater, DenyConnection
from ..message import Message
from ..outbox import HeldSends, Outbox
from ..routing import Router
from ..signals import consumer_finished, consumer_started
from ..utils import name_that_thing
from .metrics import NullWorkerMetrics

logger = logging.getLogger("channels.worker")

#: How many times a message may be put back with ``ConsumeLater``.
CONSUME_LATER_LIMIT = 50
#: Key in a requeued message's content that counts its ``ConsumeLater`` turns.
RETRIES_KEY = "__retries__"
#: WebSocket channels whose unrouted messages are dropped without a word:
#: Channels 1.x consumed them with a no-op consumer, and a push-only project
#: (routing only ``websocket.connect``) sends thousands of them.
SILENTLY_DROPPED = frozenset({"websocket.receive", "websocket.disconnect"})
#: Seconds after the last consumer finished from which the next one first
#: closes stale database connections (right after one, :meth:`Dispatcher.finish`
#: has just done it).
IDLE_RECHECK = 1.0
#: Channels with a default for unrouted messages (:meth:`Dispatcher.handle_unrouted`),
#: which every worker therefore serves whether or not a route names them.
DEFAULT_CHANNELS = ("websocket.connect", *sorted(SILENTLY_DROPPED))


@dataclass(slots=True)
class ConsumerRun:
    """One message's consumer run, as :meth:`Dispatcher.run` returns it."""

    message: Message
    consumer: Callable
    started: float  # time.perf_counter() when it began
    outcome: str = "error"  # unless the consumer returns or raises one of ours
    #: Sends taken out of its outbox, still to be made (then ``finish``).
    held: HeldSends | None = None
    #: Seconds from start to finish, once finished.
    elapsed: float | None = None


class Dispatcher:
    """Finds and runs the consumer of each message of one backend."""

    def __init__(
        self,
        backend: BaseChannelBackend,
        router: Router,
        manage_connections: bool = True,
        metrics: NullWorkerMetrics | None = None,
        sender: type | None = None,
    ) -> None:
        self.backend = backend
        self.router = router
        self.metrics = metrics or NullWorkerMetrics()
        #: ``sender`` of the consumer signals (Channels 1.x: the worker class).
        self.sender = sender or type(self)
        #: Times a message may be put back with ``ConsumeLater`` (1.x ``message_retries``).
        self.consume_later_limit = CONSUME_LATER_LIMIT
        # Close stale database connections around each consumer, as Django's
        # request signals do for views. Test clients turn it off: a test's
        # transaction must survive the consumer.
        self.manage_connections = manage_connections
        self._connections_checked = float("-inf")  # perf_counter() of the last close

    def handle(self, channel: str, content: dict, raise_exceptions: bool = False) -> float | None:
        """Route one message and run its consumer.

        Returns the seconds the consumer took, or None if no route matched.
        A consumer's exception is logged (or raised, with
        ``raise_exceptions``, which test clients use).
        """
        run = self.run(channel, content, raise_exceptions=raise_exceptions)
        return None if run is None else run.elapsed

    def run(
        self,
        channel: str,
        content: dict,
        raise_exceptions: bool = False,
        hold_sends: bool = False,
    ) -> ConsumerRun | None:
        """Route one message and run its consumer; None if no route matched.

        With ``hold_sends``, a consumer that returned normally and left only
        plain channel sends on this dispatcher's backend in its outbox
        gets them back in ``held`` instead of sent: the caller sends them
        (the worker, with its next receive) and then calls :meth:`finish`,
        which does what follows a consumer. Otherwise the run is finished
        here, ``elapsed`` set.
        """
        message = Message(content, channel, self.backend)
        found = self.router.match(message)
        if found is None:
            self.metrics.handled(channel, "unrouted", None)
            self.handle_unrouted(message)
            return None
        consumer, kwargs = found
        run = ConsumerRun(message, consumer, time.perf_counter())
        if self.manage_connections and run.started - self._connections_checked >= IDLE_RECHECK:
            # The worker waited for this message: a connection may have
            # outlived CONN_MAX_AGE meanwhile. Right after another consumer
            # finish() has just checked them.
            close_old_connections()
        try:
            consumer_started.send(sender=self.sender, environ={})
            with Outbox() as outbox:
                call_consumer(consumer, message, **kwargs)
                if hold_sends:
                    run.held = outbox.take_sends(self.backend)
            run.outcome = "ok"
        except ConsumeLater:
            run.outcome = "requeued"
            self.requeue(message)
        except DenyConnection:
            run.outcome = "denied"
            self.deny(message)
        except ChannelSocketException as exc:
            # The consumer chose to answer its client this way: not a failure.
            run.outcome = "ok"
            exc.run(message)
        except Exception:
            if raise_exceptions:
                raise
            logger.exception("consumer %s raised on %s", name_that_thing(consumer), channel)
            self.answer_failure(message)
        finally:
            if run.held is None:
                self.finish(run)
        return run

    def finish(self, run: ConsumerRun, send_error: Exception | None = None) -> float:
        """What follows a consumer: ``consumer_finished``, stale database
        connections closed, metrics. ``send_error`` is why its held sends
        could not all be made: handled as the consumer raising it would
        have been. Returns the seconds since the consumer started."""
        channel = run.message.channel.name
        if send_error is not None:
            run.outcome = "error"
            logger.error(
                "consumer %s raised on %s",
                name_that_thing(run.consumer),
                channel,
                exc_info=send_error,
            )
            self.answer_failure(run.message)
        self.consumer_finished()
        if self.manage_connections:
            close_old_connections()
        run.elapsed = elapsed = time.perf_counter() - run.started
        self._connections_checked = run.started + elapsed
        self.metrics.handled(channel, run.outcome, elapsed)
        if logger.isEnabledFor(logging.DEBUG):  # naming the consumer costs a little
            logger.debug(
                "%s %s -> %s in %.1f ms",
                channel,
                run.message.content.get("path", ""),
                name_that_thing(run.consumer),
                elapsed * 1000,
            )
        return elapsed

    def consumer_finished(self) -> None:
        """Send ``consumer_finished``; a failing receiver is logged, not raised,
        so it cannot stop the worker loop."""
        try:
            consumer_finished.send(sender=self.sender)
        except Exception:
            logger.exception("a consumer_finished receiver raised")

    def handle_unrouted(self, message: Message) -> None:
        """No route matched: the Channels 1.x defaults, else a warning.

        An unrouted ``websocket.connect`` is accepted; ``websocket.receive``
        and ``websocket.disconnect`` are dropped quietly. Anything else is
        dropped with a warning naming the channel and path.
        """
        name = message.channel.name
        if name == "websocket.connect" and message.reply_channel:
            message.reply_channel.send({"accept": True}, immediately=True)
            return
        if name in SILENTLY_DROPPED:
            logger.debug("no route for %s (path=%r); dropped", name, message.content.get("path"))
            return
        logger.warning(
            "no route matches message on %s (path=%r); dropped",
            message.channel.name,
            message.content.get("path"),
        )

    def answer_failure(self, message: Message) -> None:
        """Tell the client a consumer failed, rather than leave it to time out.

        The failed consumer's own sends were discarded with its outbox, so
        nothing has reached the client yet: an HTTP request gets a 500, a
        WebSocket being opened is refused.
        """
        if message.reply_channel is None:
            return
        if message.channel.name == "http.request":
            reply = {
                "status": 500,
                "content": b"Internal Server Error",
                "headers": [[b"content-type", b"text/plain; charset=utf-8"]],
            }
        elif message.channel.name == "websocket.connect":
            reply = {"close": True}
        else:
            return
        try:
            message.reply_channel.send(reply, immediately=True)
        except Exception:
            logger.warning("could not send the failure reply", exc_info=True)

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
        if content[RETRIES_KEY] > self.consume_later_limit:
            logger.error(
                "message on %s dropped: ConsumeLater raised %d times",
                message.channel.name,
                self.consume_later_limit,
            )
            return
        try:
            self.backend.send(message.channel.name, content)
        except Exception:
            logger.exception("could not requeue message on %s", message.channel.name)
