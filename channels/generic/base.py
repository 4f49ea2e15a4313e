"""``BaseConsumer``: one instance per message, a method per channel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..auth import channel_session_user
from ..channel import Group
from ..consumer_call import call_consumer
from ..routing import RouteClass, route_class
from ..sessions import channel_session


def join_groups(message, groups: Iterable[str]) -> None:
    """Add ``message``'s reply channel to each of ``groups``.

    On the backend the message came from, so a consumer of a second alias
    keeps its connections' groups there. The consumers of long-lived
    connections join their ``connection_groups()`` when a connection opens.
    """
    for name in groups:
        Group(name, message.alias, message.channel_backend).add(message.reply_channel)


def leave_groups(message, groups: Iterable[str]) -> None:
    """Take ``message``'s reply channel out of each of ``groups`` (see :func:`join_groups`)."""
    for name in groups:
        Group(name, message.alias, message.channel_backend).discard(message.reply_channel)


class BaseConsumer:
    """Base of class-based consumers.

    ``method_mapping`` maps channel names to method names; each method is
    called as ``method(message, **kwargs)`` with the route's keyword
    arguments. Set ``channel_session`` (or ``channel_session_user``) to True
    to have the method wrapped in that decorator.
    """

    #: channel name -> name of the method that handles it
    method_mapping: dict[str, str] = {}
    #: wrap handlers in :func:`channels.sessions.channel_session`
    channel_session = False
    #: wrap handlers in :func:`channels.auth.channel_session_user`
    channel_session_user = False

    def __init__(self, message, **kwargs: Any) -> None:
        self.message = message
        self.kwargs = kwargs
        self.dispatch(message, **kwargs)

    @classmethod
    def channel_names(cls) -> set[str]:
        """The channels this consumer serves (what ``route_class`` routes)."""
        return set(cls.method_mapping)

    @classmethod
    def as_route(cls, attrs: dict[str, Any] | None = None, **kwargs: Any) -> RouteClass:
        """A route for this class; ``attrs`` overrides class attributes in a subclass."""
        consumer = cls
        if attrs:
            if not isinstance(attrs, dict):
                raise TypeError("as_route(attrs=...) must be a dict of attributes")
            consumer = type(cls.__name__, (cls,), attrs)
        return route_class(consumer, **kwargs)

    def get_handler(self, message, **kwargs: Any) -> Callable:
        """The method for ``message``'s channel, wrapped in session decorators."""
        name = self.method_mapping.get(message.channel.name)
        if name is None:
            raise ValueError(
                f"{type(self).__name__} has no method for channel {message.channel.name!r} "
                f"(method_mapping: {self.method_mapping})"
            )
        handler = self.wrap_handler(getattr(self, name), message)
        if self.channel_session_user:
            return channel_session_user(handler)
        if self.channel_session:
            return channel_session(handler)
        return handler

    def wrap_handler(self, handler: Callable, message) -> Callable:
        """Hook: decorate the bare method before the session decorators (innermost)."""
        return handler

    def dispatch(self, message, **kwargs: Any) -> Any:
        """Run the handler for ``message``."""
        return call_consumer(self.get_handler(message, **kwargs), message, **kwargs)
