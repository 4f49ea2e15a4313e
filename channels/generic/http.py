"""HTTP consumers for responses that are not a Django view's: long-poll and
server-sent events.

An ``http.response`` may come in several messages (``more_content=True`` on
all but the last), sent by any process: a consumer can answer a request's
headers now and let later events, sent to a group, stream the body::

    class Ticker(ServerSentEventsConsumer):
        def connection_groups(self, **kwargs):
            return ["ticks"]

    channel_routing = [Ticker.as_route(path=r"^/ticks/$")]

    # anywhere, later:
    Ticker.group_send_event("ticks", "42", event="price")

Route these with a path filter; requests no route matches still go to
Django's views.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..channel import Channel, Group
from ..consumer_call import call_consumer
from .base import BaseConsumer, join_groups, leave_groups

__all__ = ["HttpConsumer", "LongPollConsumer", "ServerSentEventsConsumer"]

Headers = Iterable[tuple[bytes | str, bytes | str]]


def _encode_headers(headers: Headers) -> list[list[bytes]]:
    def as_bytes(value: bytes | str) -> bytes:
        return value if isinstance(value, bytes) else value.encode("latin-1")

    return [[as_bytes(name).lower(), as_bytes(value)] for name, value in headers]


class HttpConsumer(BaseConsumer):
    """Answers ``http.request`` messages itself, possibly over several messages.

    Override :meth:`handle` (called with the request body) and answer with
    :meth:`send_response`, or :meth:`send_headers` then :meth:`send_body`.
    ``self.method``, ``self.path`` and ``self.query_string`` describe the
    request. Sockets join :meth:`connection_groups` on request and leave
    them on ``http.disconnect`` (when the interface server reports the
    client gone).
    """

    method_mapping = {"http.request": "raw_request", "http.disconnect": "raw_disconnect"}
    groups: list[str] | None = None

    def connection_groups(self, **kwargs: Any) -> list[str]:
        """Groups the request's reply channel joins while it is open."""
        return list(self.groups or [])

    def raw_request(self, message, **kwargs: Any) -> None:
        """Read the request, join the groups, call :meth:`handle`."""
        content = message.content
        self.method = content.get("method", "GET")
        self.path = content.get("path", "/")
        self.query_string = content.get("query_string", b"")
        self.headers_sent = False
        join_groups(message, self.connection_groups(**kwargs))
        call_consumer(self.handle, content.get("body", b""), **kwargs)

    def handle(self, body: bytes, **kwargs: Any) -> None:
        """Answer the request (override). The default is 405."""
        self.send_response(405, b"Method Not Allowed", [(b"content-type", b"text/plain")])

    def raw_disconnect(self, message, **kwargs: Any) -> None:
        """Leave the groups, call :meth:`disconnect`."""
        leave_groups(message, self.connection_groups(**kwargs))
        call_consumer(self.disconnect, message, **kwargs)

    def disconnect(self, message, **kwargs: Any) -> None:
        """The client went away (override)."""

    def send_response(self, status: int, body: bytes = b"", headers: Headers = ()) -> None:
        """A whole response in one message."""
        self.message.reply_channel.send(
            {
                "status": status,
                "headers": _encode_headers(headers),
                "content": body,
                "more_content": False,
            }
        )
        self.headers_sent = True

    def send_headers(self, status: int = 200, headers: Headers = ()) -> None:
        """Start a response whose body follows in :meth:`send_body` calls."""
        self.message.reply_channel.send(
            {
                "status": status,
                "headers": _encode_headers(headers),
                "content": b"",
                "more_content": True,
            }
        )
        self.headers_sent = True

    def send_body(self, body: bytes, more_content: bool = False) -> None:
        """A piece of the body; ``more_content=False`` ends the response."""
        if not self.headers_sent:
            raise RuntimeError("send_headers() must come before send_body()")
        self.message.reply_channel.send({"content": body, "more_content": more_content})


class LongPollConsumer(HttpConsumer):
    """Holds requests open until an event answers every waiting client.

    :meth:`handle` sends nothing: the request's reply channel waits in the
    groups until :meth:`group_respond` sends each of them a whole response
    (the interface server's HTTP timeout bounds the wait).
    """

    def handle(self, body: bytes, **kwargs: Any) -> None:
        """Wait (nothing to send yet)."""

    @classmethod
    def group_respond(
        cls,
        group: str,
        body: bytes,
        status: int = 200,
        content_type: bytes = b"application/json",
    ) -> None:
        """Answer every request waiting in ``group`` and take each out of it.

        Answered reply channels are dead: removing them keeps the group to
        the clients still waiting.
        """
        waiting = Group(group)
        response = {
            "status": status,
            "headers": [[b"content-type", content_type]],
            "content": body,
            "more_content": False,
        }
        for name in waiting.channels():
            Channel(name, waiting.alias, waiting.channel_backend).send(response)
            waiting.discard(name)


class ServerSentEventsConsumer(HttpConsumer):
    """A ``text/event-stream`` response fed by events sent to its groups."""

    def handle(self, body: bytes, **kwargs: Any) -> None:
        """Start the event stream."""
        self.send_headers(
            200,
            [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
            ],
        )

    @staticmethod
    def format_event(data: str, event: str | None = None, id: str | None = None) -> bytes:
        """One event in the ``text/event-stream`` format."""
        lines = []
        if id is not None:
            lines.append(f"id: {id}")
        if event is not None:
            lines.append(f"event: {event}")
        lines.extend(f"data: {line}" for line in str(data).split("\n"))
        return ("\n".join(lines) + "\n\n").encode("utf-8")

    def send_event(self, data: str, event: str | None = None, id: str | None = None) -> None:
        """Send one event to this client."""
        self.send_body(self.format_event(data, event, id), more_content=True)

    @classmethod
    def group_send_event(
        cls, group: str, data: str, event: str | None = None, id: str | None = None
    ) -> None:
        """Send one event to every client in ``group``."""
        Group(group).send({"content": cls.format_event(data, event, id), "more_content": True})
