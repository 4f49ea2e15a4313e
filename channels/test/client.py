"""``Client``: drive consumers through routing without sockets."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.core import signals
from django.db import close_old_connections

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..message import Message
from ..names import random_suffix
from ..workers.dispatch import Dispatcher
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


class Client:
    """Plays the interface server: sends messages, runs their consumers, reads replies.

    Each client has its own reply channel, added to every message it sends
    that has none. Consumers run as the worker runs them (routing, outbox,
    ``DenyConnection``, ``ConsumeLater``). A consumer's exception reaches the
    test, as in Channels 1.x; with ``raise_exceptions=False`` it is logged and
    answered as a worker would (500 for HTTP, refusal for a WebSocket).
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
        content = dict(content or {})
        content.setdefault("reply_channel", self.reply_channel)
        self.backend.send(to, content)

    def get_next_message(self, channel: str) -> Message | None:
        """The next message waiting on ``channel``, or None."""
        name, content = self.backend.receive_many([channel])
        return None if name is None else Message(content, name, self.backend)

    def consume(self, channel: str, fail_on_none: bool = True) -> bool:
        """Run the consumer for the next message on ``channel``, as a worker would.

        Returns whether there was a message; with ``fail_on_none`` a missing
        message or route fails the test.
        """
        name, content = self.backend.receive_many([channel])
        if name is None:
            if fail_on_none:
                raise AssertionError(f"no message waiting on {channel}")
            return False
        dispatcher = Dispatcher(self.backend, router_for(self.alias), manage_connections=False)
        if (
            fail_on_none
            and name != "websocket.connect"
            and dispatcher.router.match_content(name, content) is None
        ):
            raise AssertionError(f"no route matches the message on {name}: {content!r}")
        with connections_kept_open():
            dispatcher.handle(name, content, raise_exceptions=self.raise_exceptions)
        return True

    def send_and_consume(
        self, channel: str, content: dict | None = None, fail_on_none: bool = True
    ) -> bool:
        """``send`` then ``consume`` on the same channel."""
        self.send(channel, content)
        return self.consume(channel, fail_on_none=fail_on_none)

    def receive(self) -> dict | None:
        """The next message sent to this client's reply channel, or None."""
        _, content = self.backend.receive_many([self._inbox])
        return content
