"""``Message``: what a consumer receives."""

from __future__ import annotations

import copy
from typing import Any

from .backends.base import BaseChannelBackend
from .channel import Channel


class Message:
    """One message taken from a channel.

    ``content`` is the dict that was sent; ``channel`` is the
    :class:`~channels.channel.Channel` it came on; ``reply_channel`` is a
    ``Channel`` for ``content["reply_channel"]`` (or ``None``). Decorators
    such as ``channel_session`` attach more attributes.
    """

    def __init__(
        self,
        content: dict,
        channel_name: str,
        channel_backend: BaseChannelBackend,
        alias: str | None = None,
    ) -> None:
        self.content = content
        self.channel_backend = channel_backend
        self.alias = alias if alias is not None else channel_backend.alias
        self.channel = Channel(channel_name, self.alias, channel_backend)
        reply = content.get("reply_channel")
        self.reply_channel = Channel(reply, self.alias, channel_backend) if reply else None

    @property
    def channel_layer(self) -> BaseChannelBackend:
        """The backend the message came from (Channels 1.x name)."""
        return self.channel_backend

    def __getitem__(self, key: str) -> Any:
        return self.content[key]

    def __contains__(self, key: str) -> bool:
        return key in self.content

    def get(self, key: str, default: Any = None) -> Any:
        """``content.get``."""
        return self.content.get(key, default)

    def keys(self):
        """``content.keys``."""
        return self.content.keys()

    def copy(self) -> Message:
        """A copy whose content can be changed without touching this one."""
        return type(self)(
            copy.deepcopy(self.content), self.channel.name, self.channel_backend, self.alias
        )

    def __repr__(self) -> str:
        return f"<Message on {self.channel.name!r}>"
