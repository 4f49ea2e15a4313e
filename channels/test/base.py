"""Test cases whose channel backends are in memory.

Channels 1.x kept ``Client`` and ``apply_routes`` in this module too
(``from channels.test.base import Client``); they are re-exported here.
"""

from __future__ import annotations

from django.test import TestCase, TransactionTestCase

from ..backends.memory import InMemoryChannelBackend
from ..backends.registry import DEFAULT_CHANNEL_BACKEND, backend_settings, channel_backends
from ..message import Message
from .client import Client
from .receiving import receive_from
from .routes import apply_routes


class ChannelTestCaseMixin:
    """Swap every configured backend for a fresh in-memory one per test."""

    test_channel_aliases = [DEFAULT_CHANNEL_BACKEND]

    # A classmethod, as Django's since 5.2 (TransactionTestCase runs it from
    # setUpClass for a class's first test).
    @classmethod
    def _pre_setup(cls):
        super()._pre_setup()
        aliases = set(backend_settings()) | set(cls.test_channel_aliases)
        channel_backends.reset()
        for alias in aliases:
            channel_backends.set(alias, InMemoryChannelBackend(alias))

    def _post_teardown(self):
        channel_backends.reset()
        super()._post_teardown()

    def get_next_message(
        self, channel: str, alias: str = DEFAULT_CHANNEL_BACKEND, require: bool = False
    ) -> Message | None:
        """The next message waiting on ``channel`` (or None; fail if ``require``).

        ``channel`` may be a process-local name such as a client's
        ``reply_channel``.
        """
        backend = channel_backends[alias]
        name, content = receive_from(backend, channel)
        if name is None:
            if require:
                raise AssertionError(f"expected a message on {channel}, there was none")
            return None
        return Message(content, name, backend)


class ChannelTestCase(ChannelTestCaseMixin, TestCase):
    """``django.test.TestCase`` with in-memory channel backends."""


class TransactionChannelTestCase(ChannelTestCaseMixin, TransactionTestCase):
    """``django.test.TransactionTestCase`` with in-memory channel backends."""


__all__ = [
    "ChannelTestCaseMixin",
    "ChannelTestCase",
    "TransactionChannelTestCase",
    "Client",
    "apply_routes",
]
