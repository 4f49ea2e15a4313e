"""``Channel`` and ``Group``: the names project code sends to.

These are thin, cheap handles: they hold a name and a backend alias, and
each call goes to ``channel_backends[alias]``.
"""

from __future__ import annotations

from .backends.base import BaseChannelBackend
from .backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from .names import validate_channel_name, validate_group_name
from .outbox import deliver, deliver_send


def _text_name(name: str | bytes) -> str:
    # Channels 1.x took names as bytes too (Python 2 code, ASCII by the name rules).
    return name.decode("ascii") if isinstance(name, bytes) else name


def _backend_for(
    alias: str, channel_layer: BaseChannelBackend | None, channel_backend: BaseChannelBackend | None
) -> BaseChannelBackend:
    # ``channel_layer`` is the Channels 1.x keyword, ``channel_backend`` ours.
    if channel_layer is not None:
        return channel_layer
    return channel_backend if channel_backend is not None else channel_backends[alias]


class Channel:
    """A named channel on a backend.

    ``Channel("chat.receive").send({"text": "hi"})`` queues a message;
    inside a consumer it is sent when the consumer returns, unless
    ``immediately=True``. As in Channels 1.x,
    ``Channel(name, alias="default", channel_layer=None)``: pass a backend
    alias, or the backend itself (``channel_layer=``, or ``channel_backend=``).
    """

    def __init__(
        self,
        name: str | bytes,
        alias: str = DEFAULT_CHANNEL_BACKEND,
        channel_layer: BaseChannelBackend | None = None,
        *,
        channel_backend: BaseChannelBackend | None = None,
    ) -> None:
        self.name = validate_channel_name(_text_name(name), receive=True)
        self.channel_backend = _backend_for(alias, channel_layer, channel_backend)
        self.alias = getattr(self.channel_backend, "alias", alias)

    # Channels 1.x called this attribute channel_layer.
    @property
    def channel_layer(self) -> BaseChannelBackend:
        """The backend this channel lives on (Channels 1.x name)."""
        return self.channel_backend

    def send(self, content: dict, immediately: bool = False) -> None:
        """Send ``content`` (a dict) to this channel."""
        if not isinstance(content, dict):
            raise TypeError(f"you can only send dicts as content on channels, not {content!r:.40}")
        deliver_send(self.channel_backend, self.name, content, immediately)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} on {self.alias!r}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Channel):
            return (self.name, self.alias) == (other.name, other.alias)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.name, self.alias))


class Group:
    """A named set of channels that messages can be sent to at once.

    ``Group(name, alias="default", channel_layer=None)``, like :class:`Channel`.
    """

    def __init__(
        self,
        name: str | bytes,
        alias: str = DEFAULT_CHANNEL_BACKEND,
        channel_layer: BaseChannelBackend | None = None,
        *,
        channel_backend: BaseChannelBackend | None = None,
    ) -> None:
        self.name = validate_group_name(_text_name(name))
        self.channel_backend = _backend_for(alias, channel_layer, channel_backend)
        self.alias = getattr(self.channel_backend, "alias", alias)

    @property
    def channel_layer(self) -> BaseChannelBackend:
        """The backend this group lives on (Channels 1.x name)."""
        return self.channel_backend

    @staticmethod
    def _channel_name(channel: Channel | str) -> str:
        return channel.name if isinstance(channel, Channel) else channel

    def add(self, channel: Channel | str) -> None:
        """Add a channel (or channel name) to the group, renewing its expiry."""
        self.channel_backend.group_add(self.name, self._channel_name(channel))

    def discard(self, channel: Channel | str) -> None:
        """Remove a channel from the group; a no-op if it is not a member."""
        self.channel_backend.group_discard(self.name, self._channel_name(channel))

    def channels(self) -> list[str]:
        """Names of the group's live members."""
        return self.channel_backend.group_channels(self.name)

    def send(self, content: dict, immediately: bool = False) -> None:
        """Send ``content`` to every member of the group."""
        if not isinstance(content, dict):
            raise TypeError(f"you can only send dicts as content on groups, not {content!r:.40}")
        backend, name = self.channel_backend, self.name
        deliver(lambda: backend.send_group(name, content), f"group {name}", immediately)

    def __repr__(self) -> str:
        return f"<Group {self.name!r} on {self.alias!r}>"
