"""``Client``: drive consumers through routing without sockets."""

from __future__ import annotations

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..names import random_suffix
from ..workers.routing import load_router
from ..workers.worker import Worker


class Client:
    """Plays the interface server: sends messages, runs their consumers, reads replies.

    Each client has its own reply channel, added to every message it sends
    that has none.
    """

    def __init__(self, alias: str = DEFAULT_CHANNEL_BACKEND) -> None:
        self.alias = alias
        # An inbox of its own, so clients never read each other's replies.
        self._inbox = f"test.client.{random_suffix()}!"
        self.reply_channel = self.backend.new_channel(self._inbox)

    @property
    def backend(self):
        """The (in-memory, under ``ChannelTestCase``) backend of ``alias``."""
        return channel_backends[self.alias]

    def send(self, to: str, content: dict | None = None) -> None:
        """Send a message to channel ``to``, with this client's reply channel."""
        content = dict(content or {})
        content.setdefault("reply_channel", self.reply_channel)
        self.backend.send(to, content)

    def consume(self, channel: str, fail_on_none: bool = True) -> bool:
        """Run the consumer for the next message on ``channel``, as a worker would."""
        router = load_router(self.alias)
        worker = Worker(self.backend, router, only_channels=[channel])
        name, content = self.backend.receive_many([channel])
        if name is None:
            if fail_on_none:
                raise AssertionError(f"no message waiting on {channel}")
            return False
        worker.handle(name, content)
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
