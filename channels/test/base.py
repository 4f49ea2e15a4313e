"""Test cases whose channel backends are in memory."""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase

from ..backends.memory import InMemoryChannelBackend
from ..backends.registry import DEFAULT_CHANNEL_BACKEND, backend_settings, channel_backends
from ..message import Message


class ChannelTestCaseMixin:
    """Swap every configured backend for a fresh in-memory one per test."""

    test_channel_aliases = [DEFAULT_CHANNEL_BACKEND]

    def _pre_setup(self):
        super()._pre_setup()
        aliases = set(backend_settings()) | set(self.test_channel_aliases)
        channel_backends.reset()
        for alias in aliases:
            channel_backends.set(alias, InMemoryChannelBackend(alias))

    def _post_teardown(self):
        channel_backends.reset()
        super()._post_teardown()

    def get_next_message(
        self, channel: str, alias: str = DEFAULT_CHANNEL_BACKEND, require: bool = False
    ) -> Message | None:
        """The next message waiting on ``channel`` (or None; fail if ``require``)."""
        backend = channel_backends[alias]
        name, content = backend.receive_many([channel])
        if name is None:
            if require:
                raise AssertionError(f"expected a message on {channel}, there was none")
            return None
        return Message(content, name, backend)


class ChannelTestCase(ChannelTestCaseMixin, TestCase):
    """``django.test.TestCase`` with in-memory channel backends."""


class TransactionChannelTestCase(ChannelTestCaseMixin, TransactionTestCase):
    """``django.test.TransactionTestCase`` with in-memory channel backends."""
