"""The one format of a queued message in Redis, packed and read here only.

A list element is ``<expires_at_ms>:<channel>:<payload>``: when the message
stops being deliverable (milliseconds of the sender's clock), the full
``name!suffix`` of a process-local channel (empty for a plain channel, which
its key names), and the payload (sealed if encryption is on). Channel names
never hold ``:``, so the first two colons split it. The Lua scripts read and
write the same format (``parse`` and ``fan_out`` in :mod:`.scripts`).
"""

from __future__ import annotations

from typing import NamedTuple


class Element(NamedTuple):
    """A queued message, as read from its list."""

    expires: int  # ms since the epoch
    channel: bytes  # b"" for a plain channel
    payload: bytes


def pack(expires: int, channel: str, payload: bytes) -> bytes:
    """The list element of ``payload`` for ``channel`` (``""`` if plain)."""
    return b"%d:%s:%s" % (expires, channel.encode(), payload)


def parse(element: bytes) -> Element:
    """The parts of a list element."""
    expires, channel, payload = element.split(b":", 2)
    return Element(int(expires), channel, payload)


def expires_at(element: bytes) -> int:
    """When ``element`` expires (ms), reading no further than needed."""
    return int(element.split(b":", 1)[0])


def channel_tag(channel: str, inbox: str) -> str:
    """What an element names as its channel: the channel if it is
    process-local (it shares its inbox's list), else nothing."""
    return channel if inbox != channel else ""
