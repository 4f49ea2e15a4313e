"""``Message``: what a consumer receives."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .backends.base import BaseChannelBackend
from .backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from .channel import Channel


def header_pairs(headers: list | dict | None) -> list[tuple[bytes, bytes]]:
    """``(name, value)`` byte pairs of a message's ``headers``.

    Interface servers send ``[[name, value], ...]`` in bytes; Channels 1.x
    test clients and hand-built messages used a dict of ``{name: value}``
    (text or bytes). Both forms are read the same way.
    """
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(_latin1(name), _latin1(value)) for name, value in items]


def _latin1(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1")


class Message:
    """One message taken from a channel.

    ``content`` is the dict that was sent; ``channel`` is the
    :class:`~channels.channel.Channel` it came on; ``reply_channel`` is a
    ``Channel`` for ``content["reply_channel"]`` (or ``None``). Decorators
    such as ``channel_session`` attach more attributes.

    Built as in Channels 1.x, ``Message(content, channel_name, channel_layer)``:
    the backend may be passed positionally or as ``channel_layer=`` (or
    ``channel_backend=``); ``None`` means the backend of ``alias`` (the
    default one). A message is also a mapping over its content:
    ``message["text"]``, ``message["order"] = 3``, ``items()``, ``values()``.
    It is always true, even with empty content (1.x code tests ``if message:``).
    """

    def __init__(
        self,
        content: dict,
        channel_name: str,
        channel_layer: BaseChannelBackend | None = None,
        alias: str | None = None,
        *,
        channel_backend: BaseChannelBackend | None = None,
    ) -> None:
        backend = channel_layer if channel_layer is not None else channel_backend
        if backend is None:
            backend = channel_backends[alias if alias is not None else DEFAULT_CHANNEL_BACKEND]
        self.content = content
        self.channel_backend = backend
        self.alias = alias if alias is not None else backend.alias
        self.channel = Channel(channel_name, self.alias, backend)
        reply = content.get("reply_channel")
        self.reply_channel = Channel(reply, self.alias, backend) if reply else None

    @property
    def channel_layer(self) -> BaseChannelBackend:
        """The backend the message came from (Channels 1.x name)."""
        return self.channel_backend

    # --- the mapping over ``content`` ---------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.content[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.content[key] = value

    def __delitem__(self, key: str) -> None:
        del self.content[key]

    def __contains__(self, key: object) -> bool:
        return key in self.content

    def __iter__(self) -> Iterator[str]:
        return iter(self.content)

    def get(self, key: str, default: Any = None) -> Any:
        """``content.get``."""
        return self.content.get(key, default)

    def keys(self):
        """``content.keys``."""
        return self.content.keys()

    def values(self):
        """``content.values``."""
        return self.content.values()

    def items(self):
        """``content.items``."""
        return self.content.items()

    def copy(self) -> Message:
        """A copy whose content can be changed without touching this one."""
        return type(self)(
            copy.deepcopy(self.content), self.channel.name, self.channel_backend, self.alias
        )

    def __repr__(self) -> str:
        return f"<Message on {self.channel.name!r}>"
