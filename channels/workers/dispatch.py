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

from django.db import close_old_connections

from ..backends.base import BaseChannelBackend
from ..consumer_call import call_consumer
from ..exceptions import ChannelSocketException, ConsumeLater, DenyConnection
from ..message import Message
from ..outbox import Outbox
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
#: Channels with a default for unrouted messages (:meth:`Dispatcher.handle_unrouted`),
#: which every worker therefore serves whether or not a route names them.
DEFAULT_CHANNELS = ("websocket.connect", *sorted(SILENTLY_DROPPED))


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

    def handle(self, channel: str, content: dict, raise_exceptions: bool = False) -> float | None:
        """Route one message and run its consumer.

        Returns the seconds the consumer took, or None if no route matched.
        A consumer's exception is logged (or raised, with
        ``raise_exceptions``, which test clients use).
        """
        message = Message(content, channel, self.backend)
        found = self.router.match(message)
        if found is None:
            self.metrics.handled(channel, "unrouted", None)
            self.handle_unrouted(message)
            return None
        consumer, kwargs = found
        started = time.perf_counter()
        outcome = "error"  # unless the consumer returns or raises one of ours
        if self.manage_connections:
            close_old_connections()
        try:
            consumer_started.send(sender=self.sender, environ={})
            with Outbox():
                call_consumer(consumer, message, **kwargs)
            outcome = "ok"
        except ConsumeLater:
            outcome = "requeued"
            self.requeue(message)
        except DenyConnection:
            outcome = "denied"
            self.deny(message)
        except ChannelSocketException as exc:
            # The consumer chose to answer its client this way: not a failure.
            outcome = "ok"
            exc.run(message)
        except Exception:
            if raise_exceptions:
                raise
            logger.exception("consumer %s raised on %s", name_that_thing(consumer), channel)
            self.answer_failure(message)
        finally:
            self.consumer_finished()
            if self.manage_connections:
                close_old_connections()
            elapsed = time.perf_counter() - started
            self.metrics.handled(channel, outcome, elapsed)
        if logger.isEnabledFor(logging.DEBUG):  # naming the consumer costs a little
            logger.debug(
                "%s %s -> %s in %.1f ms",
                channel,
                content.get("path", ""),
                name_that_thing(consumer),
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
