"""WebSocket consumers: raw, JSON, and a JSON stream demultiplexer.

::

    class Chat(JsonWebsocketConsumer):
        http_user = True            # message.user on every message
        login_required = True       # others are closed with 4001

        def connection_groups(self, room):
            return [f"chat-{room}"]  # joined at connect, left at disconnect

        def receive(self, content, room):
            self.group_send(f"chat-{room}", {"user": self.message.user.username, **content})

    channel_routing = [Chat.as_route(path=r"^/chat/(?P<room>\\w+)/$")]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from ..auth import (
    channel_and_http_session_user_from_http,
    channel_session_user_from_http,
    login_required,
    permission_required,
)
from ..channel import Channel, Group
from ..consumer_call import call_consumer
from ..exceptions import SendNotAvailableOnDemultiplexer
from ..sessions import enforce_ordering
from .base import BaseConsumer, join_groups, leave_groups

__all__ = [
    "WebsocketConsumer",
    "JsonWebsocketConsumer",
    "WebsocketMultiplexer",
    "WebsocketDemultiplexer",
]


def _frame(text: str | None, bytes: bytes | None, close: bool | int) -> dict:
    message: dict[str, Any] = {}
    if text is not None:
        message["text"] = text
    elif bytes is not None:
        message["bytes"] = bytes
    elif not close:
        raise ValueError("send needs text or bytes (or close)")
    if close:
        message["close"] = close
    return message


class WebsocketConsumer(BaseConsumer):
    """A WebSocket consumer: override ``connect``, ``receive``, ``disconnect``.

    Attributes (all off by default):

    ``http_user``
        ``message.user`` on every message: the HTTP session's user, copied
        into the channel session whenever a message carries the session
        cookie (the handshake does), so frames without cookies get it too
        (implies channel sessions). ``message.http_session`` is the session
        of the message's cookie, or None.
    ``http_user_and_session``
        as ``http_user``, and ``message.http_session`` on every message (the
        handshake's session, remembered in the channel session).
    ``channel_session`` / ``channel_session_user``
        ``message.channel_session`` (and ``message.user``) on every message.
    ``strict_ordering``
        run the socket's messages in order (:func:`~channels.sessions.enforce_ordering`).
    ``login_required`` / ``permission_required``
        refuse users not logged in (close ``login_close_code``, 4001) or
        without the permission(s) (close ``permission_close_code``, 4003).
    ``groups``
        groups every socket joins at connect and leaves at disconnect
        (or override :meth:`connection_groups`).
    """

    method_mapping = {
        "websocket.connect": "raw_connect",
        "websocket.receive": "raw_receive",
        "websocket.disconnect": "raw_disconnect",
    }

    http_user = False
    http_user_and_session = False
    strict_ordering = False
    slight_ordering = False
    login_required = False
    login_close_code = 4001
    permission_required: str | list[str] | None = None
    permission_close_code = 4003
    groups: list[str] | None = None

    def get_handler(self, message, **kwargs: Any) -> Callable:
        """The handler, wrapped in the session, user, ordering and permission decorators."""
        needs_user = self.login_required or self.permission_required
        if needs_user and not (self.http_user or self.http_user_and_session):
            # A permission check needs a user; the socket's comes from its handshake.
            self.http_user = True
        if self.http_user or self.http_user_and_session:
            self.channel_session_user = True
        self.path = message.content.get("path")
        handler = super().get_handler(message, **kwargs)
        # On every message, as 1.x did: a message that carries the session
        # cookie (the handshake; any message a test client sends) updates the
        # socket's user from it and gets ``message.http_session``; one that
        # does not (frames from a server) keeps the user of the channel session.
        if self.http_user_and_session:
            handler = channel_and_http_session_user_from_http(handler)
        elif self.http_user:
            handler = channel_session_user_from_http(handler)
        if self.slight_ordering:
            raise ValueError("slight ordering is always on; remove slight_ordering = True")
        if self.strict_ordering:
            handler = enforce_ordering(handler)
        return handler

    def wrap_handler(self, handler: Callable, message) -> Callable:
        """Permission checks, innermost so ``message.user`` is set; never on disconnect."""
        if message.channel.name == "websocket.disconnect":
            return handler
        if self.permission_required:
            handler = permission_required(
                self.permission_required, close_code=self.permission_close_code
            )(handler)
        if self.login_required:
            handler = login_required(close_code=self.login_close_code)(handler)
        return handler

    def connection_groups(self, **kwargs: Any) -> list[str]:
        """Groups the socket joins at connect and leaves at disconnect."""
        return list(self.groups or [])

    def raw_connect(self, message, **kwargs: Any) -> None:
        """Join the connection groups, then call :meth:`connect`."""
        join_groups(message, self.connection_groups(**_route_kwargs(kwargs)))
        call_consumer(self.connect, message, **kwargs)

    def connect(self, message, **kwargs: Any) -> None:
        """Accept the socket (override to decide; raise ``DenyConnection`` to refuse)."""
        if "multiplexer" not in kwargs:
            # Under a demultiplexer the demultiplexer has accepted already.
            message.reply_channel.send({"accept": True})

    def raw_receive(self, message, **kwargs: Any) -> None:
        """Call :meth:`receive` with the frame's ``text`` or ``bytes``."""
        if message.content.get("text") is not None:
            call_consumer(self.receive, text=message.content["text"], **kwargs)
        else:
            call_consumer(self.receive, bytes=message.content.get("bytes"), **kwargs)

    def receive(self, text: str | None = None, bytes: bytes | None = None, **kwargs: Any) -> None:
        """A frame arrived (override)."""

    def send(self, text: str | None = None, bytes: bytes | None = None, close: bool | int = False):
        """Send a frame to this socket (and close it if ``close``)."""
        self.message.reply_channel.send(_frame(text, bytes, close))

    @classmethod
    def group_send(
        cls, name: str, text: str | None = None, bytes: bytes | None = None, close: bool = False
    ) -> None:
        """Send a frame to every socket in group ``name``."""
        Group(name).send(_frame(text, bytes, close))

    def close(self, status: bool | int = True) -> None:
        """Close this socket (``status``: True or a close code)."""
        self.message.reply_channel.send({"close": status})

    def raw_disconnect(self, message, **kwargs: Any) -> None:
        """Leave the connection groups, then call :meth:`disconnect`."""
        leave_groups(message, self.connection_groups(**_route_kwargs(kwargs)))
        call_consumer(self.disconnect, message, **kwargs)

    def disconnect(self, message, **kwargs: Any) -> None:
        """The socket closed (override)."""


def _route_kwargs(kwargs: dict) -> dict:
    # connection_groups() takes the route's kwargs, not the multiplexer.
    return {k: v for k, v in kwargs.items() if k != "multiplexer"}


class JsonWebsocketConsumer(WebsocketConsumer):
    """A WebSocket consumer whose text frames are JSON documents."""

    def raw_receive(self, message, **kwargs: Any) -> None:
        """Decode the text frame and call :meth:`receive` with it."""
        if message.content.get("text") is None:
            raise ValueError("JsonWebsocketConsumer got a frame without text")
        call_consumer(self.receive, self.decode_json(message.content["text"]), **kwargs)

    def receive(self, content: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """A JSON document arrived (override)."""

    def send(self, content: Any, close: bool | int = False) -> None:  # type: ignore[override]
        """Send ``content`` as a JSON text frame."""
        super().send(text=self.encode_json(content), close=close)

    @classmethod
    def group_send(cls, name: str, content: Any, close: bool = False) -> None:  # type: ignore[override]
        """Send ``content`` as JSON to every socket in group ``name``."""
        WebsocketConsumer.group_send(name, cls.encode_json(content), close=close)

    @classmethod
    def decode_json(cls, text: str) -> Any:
        """Parse a frame (override for another JSON library)."""
        return json.loads(text)

    @classmethod
    def encode_json(cls, content: Any) -> str:
        """Serialise a document (override for another JSON library)."""
        return json.dumps(content)


class WebsocketMultiplexer:
    """Handed to stream consumers as ``multiplexer``: sends on one stream."""

    def __init__(self, stream: str, reply_channel: Channel) -> None:
        self.stream = stream
        self.reply_channel = reply_channel

    def send(self, payload: Any) -> None:
        """Send ``payload`` on this stream to this socket."""
        self.reply_channel.send(self.encode(self.stream, payload))

    @classmethod
    def encode_json(cls, content: Any) -> str:
        """JSON with Django's encoder (dates, decimals, UUIDs)."""
        return json.dumps(content, cls=DjangoJSONEncoder)

    @classmethod
    def encode(cls, stream: str, payload: Any) -> dict:
        """The WebSocket frame for ``payload`` on ``stream``."""
        return {"text": cls.encode_json({"stream": stream, "payload": payload})}

    @classmethod
    def group_send(cls, name: str, stream: str, payload: Any, close: bool = False) -> None:
        """Send ``payload`` on ``stream`` to every socket in group ``name``."""
        message = cls.encode(stream, payload)
        if close:
            message["close"] = True
        Group(name).send(message)


class WebsocketDemultiplexer(JsonWebsocketConsumer):
    """Routes ``{"stream": ..., "payload": {...}}`` frames to one consumer per stream.

    ``consumers`` maps stream names to consumer classes (usually
    :class:`JsonWebsocketConsumer` subclasses). Each is called with the
    payload as its frame and a ``multiplexer`` keyword argument whose
    ``send`` replies on the same stream. Connect and disconnect go to every
    stream consumer.
    """

    consumers: dict[str, Callable] = {}
    multiplexer_class = WebsocketMultiplexer

    def connect(self, message, **kwargs: Any) -> None:
        """Accept the socket, then tell every stream consumer."""
        message.reply_channel.send({"accept": True})
        for stream, consumer in self.consumers.items():
            kwargs["multiplexer"] = self.multiplexer_class(stream, message.reply_channel)
            consumer(message, **kwargs)

    def receive(self, content: Any, **kwargs: Any) -> None:
        """Hand the payload to the stream's consumer."""
        if not (isinstance(content, dict) and "stream" in content and "payload" in content):
            raise ValueError("invalid multiplexed frame: it needs 'stream' and 'payload' keys")
        consumer = self.consumers.get(content["stream"])
        if consumer is None:
            raise ValueError(f"invalid multiplexed frame: no consumer for {content['stream']!r}")
        payload = content["payload"]
        if not isinstance(payload, dict):
            raise ValueError("invalid multiplexed frame: the payload must be a JSON object")
        # Stream consumers read their frame from the message, as if sent alone.
        self.message.content["text"] = self.encode_json(payload)
        reply_channel = self.message.reply_channel
        kwargs["multiplexer"] = self.multiplexer_class(content["stream"], reply_channel)
        consumer(self.message, **kwargs)

    def disconnect(self, message, **kwargs: Any) -> None:
        """Tell every stream consumer."""
        for stream, consumer in self.consumers.items():
            kwargs["multiplexer"] = self.multiplexer_class(stream, message.reply_channel)
            consumer(message, **kwargs)

    @classmethod
    def encode(cls, stream: str, payload: Any) -> dict:
        """The frame for ``payload`` on ``stream``: what data binding sends out."""
        return cls.multiplexer_class.encode(stream, payload)

    def send(self, *args: Any, **kwargs: Any) -> None:
        """Not available: reply through the ``multiplexer`` of a stream."""
        raise SendNotAvailableOnDemultiplexer(
            "a demultiplexer cannot send; use the multiplexer kwarg's send()"
        )

    @classmethod
    def group_send(cls, *args: Any, **kwargs: Any) -> None:
        """Not available: use ``WebsocketMultiplexer.group_send``."""
        raise SendNotAvailableOnDemultiplexer(
            "a demultiplexer cannot group_send; use WebsocketMultiplexer.group_send"
        )
