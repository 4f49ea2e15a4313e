"""Routing: which consumer runs for a message.

A route names a channel, a consumer and optional *filters*: regular
expressions matched against keys of the message content::

    channel_routing = [
        route("websocket.receive", chat_receive, path=r"^/chat/(?P<room>[^/]+)/$"),
        include("myapp.routing.api_routes", path=r"^/api"),
        route_class(ChatConsumer, path=r"^/live/$"),
    ]

Named groups of a filter become keyword arguments of the consumer.
``include`` matches its filters as prefixes and hands the rest of each value
to the routes it includes. The first route that matches wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .names import validate_channel_name

Match = tuple[Callable, dict[str, Any]]

#: The class :meth:`Router.check_default` routes ``http.request`` to by default.
DEFAULT_HTTP_CONSUMER = "channels.handler.ViewConsumer"


def _compile_filters(filters: dict[str, Any]) -> dict[str, re.Pattern]:
    compiled = {}
    for key, pattern in filters.items():
        if isinstance(pattern, re.Pattern):
            compiled[key] = pattern
            continue
        if not isinstance(pattern, str):
            raise ImproperlyConfigured(
                f"route filter {key}={pattern!r} must be a regular expression string"
            )
        try:
            compiled[key] = re.compile(pattern)
        except re.error as exc:
            raise ImproperlyConfigured(
                f"route filter {key}={pattern!r} is not a valid regex: {exc}"
            ) from exc
    return compiled


def _filter_value(content: dict, key: str) -> str | None:
    value = content.get(key)
    if isinstance(value, bytes):
        # query_string and similar arrive as bytes; match them as Latin-1 text.
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


def _match_filters(
    filters: dict[str, re.Pattern], content: dict, *, full: bool
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """Match every filter; return (captured kwargs, content with prefixes cut)."""
    kwargs: dict[str, Any] = {}
    remainder: dict[str, str] = {}
    for key, regex in filters.items():
        value = _filter_value(content, key)
        if value is None:
            return None
        found = regex.match(value)
        if not found:
            return None
        kwargs.update({k: v for k, v in found.groupdict().items() if v is not None})
        if not full:
            remainder[key] = value[found.end() :]
    return kwargs, remainder


def _channel_and_content(channel: Any, content: dict | None) -> tuple[str, dict]:
    # ``match(channel, content)``, or ``match(message)`` as Channels 1.x called it.
    if content is None:
        return channel.channel.name, channel.content
    return channel, content


def _resolve_consumer(consumer: Callable | str) -> Callable:
    if isinstance(consumer, str):
        consumer = import_string(consumer)
    if not callable(consumer):
        raise ImproperlyConfigured(f"consumer {consumer!r} is not callable")
    return consumer


class Route:
    """Send messages on ``channel`` that pass ``filters`` to ``consumer``."""

    def __init__(self, channel: str, consumer: Callable | str, **filters: Any) -> None:
        self.channel = validate_channel_name(channel, receive=True)
        self.consumer = _resolve_consumer(consumer)
        self.filters = _compile_filters(filters)

    @property
    def channel_names(self) -> set[str]:
        """Channels this route can match."""
        return {self.channel}

    def match(self, channel: str, content: dict | None = None) -> Match | None:
        """The consumer and its kwargs if this route takes the message.

        Called with a channel name and content, or with a Message.
        """
        channel, content = _channel_and_content(channel, content)
        if channel != self.channel:
            return None
        matched = _match_filters(self.filters, content, full=True)
        if matched is None:
            return None
        return self.consumer, matched[0]

    def __repr__(self) -> str:
        name = getattr(self.consumer, "__name__", repr(self.consumer))
        return f"route({self.channel!r}, {name})"


class RouteClass(Route):
    """A route to a class-based consumer, for every channel it names.

    The class provides ``channel_names()`` (the channels it serves) and is
    called like a function consumer: ``ConsumerClass(message, **kwargs)``.
    """

    def __init__(self, consumer: type, **filters: Any) -> None:
        if not hasattr(consumer, "channel_names"):
            raise ImproperlyConfigured(
                f"{consumer!r} has no channel_names(); is it a consumer class?"
            )
        self.consumer = consumer
        self.filters = _compile_filters(filters)
        names = consumer.channel_names()
        self._channel_names = {validate_channel_name(n, receive=True) for n in names}
        if not self._channel_names:
            raise ImproperlyConfigured(f"{consumer.__name__}.channel_names() is empty")

    @property
    def channel_names(self) -> set[str]:
        """Channels the class serves."""
        return set(self._channel_names)

    def match(self, channel: str, content: dict | None = None) -> Match | None:
        """The class and its kwargs if the message is for it."""
        channel, content = _channel_and_content(channel, content)
        if channel not in self._channel_names:
            return None
        matched = _match_filters(self.filters, content, full=True)
        return None if matched is None else (self.consumer, matched[0])

    def __repr__(self) -> str:
        return f"route_class({self.consumer.__name__})"


class Include:
    """Routes of another routing list, behind prefix filters."""

    def __init__(self, routing: Any, **filters: Any) -> None:
        self.routes = parse_routing(routing)
        self.filters = _compile_filters(filters)

    @property
    def channel_names(self) -> set[str]:
        """Channels any included route can match."""
        return set().union(*(r.channel_names for r in self.routes)) if self.routes else set()

    def match(self, channel: str, content: dict | None = None) -> Match | None:
        """Match the prefixes, then the included routes on what is left."""
        channel, content = _channel_and_content(channel, content)
        matched = _match_filters(self.filters, content, full=False)
        if matched is None:
            return None
        kwargs, remainder = matched
        inner_content = {**content, **remainder} if remainder else content
        for inner in self.routes:
            found = inner.match(channel, inner_content)
            if found is not None:
                return found[0], {**kwargs, **found[1]}
        return None

    def __repr__(self) -> str:
        return f"include({len(self.routes)} routes)"


def route(
    channel: str | bytes | list[str], consumer: Callable | str, **filters: Any
) -> Route | Include:
    """A route from ``channel`` (plus optional regex filters) to ``consumer``.

    As in Channels 1.x, ``channel`` may also be a list of channel names (one
    route per name, same consumer and filters) or ASCII bytes.
    """
    if isinstance(channel, list | tuple):
        return Include([route(name, consumer, **filters) for name in channel])
    if isinstance(channel, bytes):
        channel = channel.decode("ascii")
    return Route(channel, consumer, **filters)


def route_class(consumer: type, **filters: Any) -> RouteClass:
    """A route to a class-based consumer for each of its ``channel_names()``."""
    return RouteClass(consumer, **filters)


def include(routing: Any, **filters: Any) -> Include:
    """Include another routing list (object or dotted path) behind prefix filters."""
    return Include(routing, **filters)


def null_consumer(*args: Any, **kwargs: Any) -> None:
    """A consumer that does nothing: route a channel to it to drop its messages."""


def connect_consumer(message: Any, *args: Any, **kwargs: Any) -> None:
    """A ``websocket.connect`` consumer that accepts every socket."""
    message.reply_channel.send({"accept": True})


def parse_routing(routing: Any) -> list:
    """Normalise a routing setting to a list of routes.

    Accepts a list of routes, a dotted path to one, or a dict of
    ``{channel: consumer}`` (the oldest Channels 1.x form).
    """
    if isinstance(routing, str):
        try:
            routing = import_string(routing)
        except ImportError as exc:
            raise ImproperlyConfigured(f"cannot import routing {routing!r}: {exc}") from exc
    if isinstance(routing, dict):
        return [Route(channel, consumer) for channel, consumer in routing.items()]
    if not isinstance(routing, Iterable):
        raise ImproperlyConfigured(f"routing must be a list of routes, not {routing!r}")
    routes = list(routing)
    for item in routes:
        if not isinstance(item, Route | Include):
            raise ImproperlyConfigured(
                f"routing entry {item!r} is not a route; build entries with route(), "
                "route_class() or include()"
            )
    return routes


class Router:
    """Finds the consumer for a message among a list of routes."""

    def __init__(self, routing: Any) -> None:
        self.routes = parse_routing(routing)

    def check_default(self, http_consumer: Callable | None = None) -> None:
        """Send ``http.request`` messages no route takes to Django's views.

        ``http_consumer`` defaults to :class:`~channels.handler.ViewConsumer`.
        (The Channels 1.x name; workers apply it through
        :func:`channels.workers.routing.serving_router`.) The other 1.x
        defaults, accepting unrouted ``websocket.connect`` and dropping
        unrouted ``websocket.receive``/``websocket.disconnect``, are applied
        by every worker whatever its router.
        """
        if http_consumer is None:
            # Named, not imported: routing stays free of the consumer helpers,
            # and only a caller that gives no consumer loads Django's views.
            http_consumer = import_string(DEFAULT_HTTP_CONSUMER)()
        # Last, so any route of the project's own wins (first match wins).
        self.add_route(route("http.request", http_consumer))

    def add_route(self, new_route: Route | Include) -> None:
        """Add a route at the end: it takes only what every earlier route leaves."""
        self.routes.append(new_route)

    @property
    def channels(self) -> set[str]:
        """Every channel some route can match."""
        return set().union(*(r.channel_names for r in self.routes)) if self.routes else set()

    def match(self, message: Any) -> Match | None:
        """``(consumer, kwargs)`` for a :class:`~channels.message.Message`, or None."""
        return self.match_content(message.channel.name, message.content)

    def match_content(self, channel: str, content: dict) -> Match | None:
        """``(consumer, kwargs)`` for a channel name and content, or None."""
        for candidate in self.routes:
            found = candidate.match(channel, content)
            if found is not None:
                return found
        return None
