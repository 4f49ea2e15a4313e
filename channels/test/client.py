"""``Client``: drive consumers through routing without sockets."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.core import signals
from django.db import close_old_connections

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..channel import Group
from ..consumer_call import call_consumer
from ..message import Message
from ..names import random_suffix
from ..routing import Match, Router
from ..workers.dispatch import Dispatcher
from .receiving import receive_from
from .routes import router_for

logger = logging.getLogger("channels.worker")


@contextmanager
def connections_kept_open():
    """Keep the view handler's request signals from closing the test's connections.

    Django's own test client does the same: a test case's transaction holds
    the database connection open across requests.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class ReturnValueRouter:
    """A router whose consumers hand their return value to the test.

    The worker ignores what a consumer returns; Channels 1.x test clients
    returned it from ``consume()`` (for a class-based consumer, the instance
    that handled the message). The dispatcher runs the consumers this router
    finds exactly as it runs any other; each is wrapped in a plain function
    that keeps the result in :attr:`result`.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.result: Any = None

    def match(self, message: Message) -> Match | None:
        """The router's match, with the consumer wrapped."""
        found = self.router.match(message)
        if found is None:
            return None
        consumer, kwargs = found
        return self._keeping_result(consumer), kwargs

    def _keeping_result(self, consumer: Callable) -> Callable:
        # updated=(): a class's __dict__ must not land on the wrapper.
        @functools.wraps(consumer, updated=())
        def run(message: Message, **kwargs: Any) -> Any:
            # As the dispatcher calls the consumer (async ones run to the end).
            self.result = call_consumer(consumer, message, **kwargs)
            return self.result

        return run


class Client:
    """Plays the interface server: sends messages, runs their consumers, reads replies.

    Each client has its own reply channel (``reply_channel``, a name), added
    to every message it sends that has none. Consumers run as the worker runs
    them (routing, outbox, ``DenyConnection``, ``ConsumeLater``), and
    ``consume()`` returns what the consumer returned, as in Channels 1.x. A
    consumer's exception reaches the test; with ``raise_exceptions=False`` it
    is logged and answered as a worker would (500 for HTTP, refusal for a
    WebSocket).
    """

    #: Raise a consumer's exception in the test instead of logging it.
    raise_exceptions = True

    def __init__(
        self, alias: str = DEFAULT_CHANNEL_BACKEND, raise_exceptions: bool | None = None
    ) -> None:
        self.alias = alias
        if raise_exceptions is not None:
            self.raise_exceptions = raise_exceptions
        # An inbox of its own, so clients never read each other's replies.
        self._inbox = f"test.client.{random_suffix()}!"
        self.reply_channel = self.backend.new_channel(self._inbox)

    @property
    def backend(self):
        """The (in-memory, under ``ChannelTestCase``) backend of ``alias``."""
        return channel_backends[self.alias]

    #: Channels 1.x name of :attr:`backend`.
    channel_layer = backend

    def send(self, to: str, content: dict | None = None) -> None:
        """Send a message to channel ``to``, with this client's reply channel."""
        content = copy.deepcopy(content or {})
        content.setdefault("reply_channel", self.reply_channel)
        self.backend.send(to, content)

    def get_next_message(self, channel: str) -> Message | None:
        """The next message waiting on ``channel`` (its reply channel too), or None."""
        name, content = receive_from(self.backend, channel)
        return None if name is None else Message(content, name, self.backend)

    def get_consumer_by_channel(self, channel: str) -> Callable | None:
        """The consumer routing gives a message on ``channel`` (path filters aside)."""
        found = router_for(self.alias).match(Message({"text": ""}, channel, self.backend))
        return None if found is None else found[0]

    def consume(self, channel: str, fail_on_none: bool = True) -> Any:
        """Run the consumer for the next message on ``channel``, as a worker would.

        Returns what the consumer returned (for a class-based consumer, its
        instance), or None. With ``fail_on_none`` a missing message or route
        fails the test.
        """
        return self._consume(channel, fail_on_none)[1]

    def _consume(self, channel: str, fail_on_none: bool) -> tuple[bool, Any]:
        """``(whether a message was consumed, the consumer's return value)``."""
        name, content = receive_from(self.backend, channel)
        if name is None:
            if fail_on_none:
                raise AssertionError(f"no message waiting on {channel}")
            return False, None
        router = ReturnValueRouter(router_for(self.alias))
        dispatcher = Dispatcher(self.backend, router, manage_connections=False)
        if (
            fail_on_none
            and name != "websocket.connect"
            and router.router.match_content(name, content) is None
        ):
            raise AssertionError(f"no route matches the message on {name}: {content!r}")
        with connections_kept_open():
            dispatcher.handle(name, content, raise_exceptions=self.raise_exceptions)
        return True, router.result

    def send_and_consume(
        self, channel: str, content: dict | None = None, fail_on_none: bool = True
    ) -> Any:
        """``send`` then ``consume`` on the same channel; returns the consumer's result."""
        self.send(channel, content)
        return self.consume(channel, fail_on_none=fail_on_none)

    def receive(self) -> dict | None:
        """The content of the next message sent to this client's reply channel, or None."""
        _, content = receive_from(self.backend, self.reply_channel)
        return content

    def join_group(self, group_name: str) -> None:
        """Add this client's reply channel to group ``group_name``."""
        Group(group_name, self.alias, self.backend).add(self.reply_channel)
