"""The default ``http.request`` consumer: run Django's view stack.

:class:`ViewConsumer` turns an ``http.request`` message into a Django
request, runs the full middleware and URL stack exactly as the WSGI handler
would, and sends the response to the message's reply channel as one or more
``http.response`` messages (streamed responses in chunks). It is an
:class:`AsgiHandler` (the Channels 1.x class, which yields those messages
instead of sending them) that sends what it yields.

The request object is Django's own :class:`~django.core.handlers.asgi.ASGIRequest`
(our message format is ASGI 1.0's, so it maps onto an ASGI scope key by key),
which fills ``request.META`` as WSGI would. Hop 6 of "The life of an HTTP
request" in docs/architecture.rst.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import closing
from functools import partial

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestDataTooBig
from django.core.handlers import base
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpResponse, HttpResponseBadRequest
from django.urls import set_script_prefix

from .backoff import retry_while_full
from .exceptions import RequestAborted, RequestTimeout, ResponseLater
from .message import Message, header_pairs
from .outbox import current_outbox

logger = logging.getLogger("channels.handler")

#: Largest ``content`` of one ``http.response`` message.
CHUNK_SIZE = 256 * 1024
#: How long to wait for each request body chunk before giving up (408).
BODY_CHUNK_TIMEOUT = 30.0
#: How long a reply channel may stay full before the response is abandoned
#: (the interface server has gone, or its client stopped reading).
REPLY_FULL_TIMEOUT = 30.0


class AsgiRequest(ASGIRequest):
    """A Django request built from an ``http.request`` message.

    ``AsgiRequest(message)`` as in Channels 1.x: the body is read from the
    message (and its ``body_channel``, if any); the view handler passes the
    body it has already read as ``body_file``. ``message`` and
    ``reply_channel`` are kept as attributes. A message without ``method``
    (a ``websocket.connect``, read for its cookies and query) is taken as a
    ``GET``.
    """

    #: Raised by a view whose response another consumer will send (1.x name).
    ResponseLater = ResponseLater

    def __init__(self, message: Message, body_file=None) -> None:
        content = message.content
        if body_file is None:
            body_file = read_body(message)
        super().__init__(scope_from_message(content), body_file)
        self.message = message
        self.reply_channel = message.reply_channel
        self.META["SERVER_PROTOCOL"] = "HTTP/" + content.get("http_version", "1.1")


def scope_from_message(content: dict) -> dict:
    """The ASGI scope Django's ``ASGIRequest`` reads, from message content."""
    headers = []
    cookies = []
    for name, value in header_pairs(content.get("headers")):
        # Several Cookie headers must join with "; " (not ","), or Django's
        # cookie parser would see one garbled cookie.
        if name.lower() == b"cookie":
            cookies.append(value)
        else:
            headers.append((name, value))
    if cookies:
        headers.append((b"cookie", b"; ".join(cookies)))
    return {
        "type": "http",
        "method": content.get("method", "GET"),
        "scheme": content.get("scheme", "http"),
        "path": content["path"],
        "root_path": content.get("root_path", ""),
        "query_string": content.get("query_string", b""),
        "headers": headers,
        "client": content.get("client"),
        "server": content.get("server"),
        "http_version": content.get("http_version", "1.1"),
    }


def read_body(message: Message) -> tempfile.SpooledTemporaryFile:
    """The whole request body, reading chunks from ``body_channel`` if any.

    Spooled to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE`` so a large upload
    never sits whole in the worker's memory.
    """
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
    body.write(message.content.get("body", b""))
    body_channel = message.content.get("body_channel")
    backend = message.channel_backend
    while body_channel:
        channel, chunk = backend.receive_many(
            [body_channel], block=True, timeout=BODY_CHUNK_TIMEOUT
        )
        if channel is None:
            body.close()
            raise RequestTimeout(f"no body chunk on {body_channel} for {BODY_CHUNK_TIMEOUT:.0f} s")
        if chunk.get("closed"):
            body.close()
            raise RequestAborted("the client closed the connection during the body")
        body.write(chunk.get("content", b""))
        if not chunk.get("more_content", False):
            break
    body.seek(0)
    return body


class AsgiHandler(base.BaseHandler):
    """Django's view stack for ``http.request`` messages (the Channels 1.x API).

    ``AsgiHandler()(message)`` runs the request through middleware and views
    and yields the ``http.response`` messages of the response;
    ``AsgiHandler.encode_response(response)`` encodes a Django response into
    that list of messages (the body in pieces of at most ``chunk_size``).
    """

    request_class = AsgiRequest
    chunk_size = CHUNK_SIZE

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware()

    def __call__(self, message: Message, **kwargs) -> Iterator[dict]:
        """The response messages for ``message``, as they are produced."""
        return self.handle(message)

    def handle(self, message: Message) -> Iterator[dict]:
        """Run the request; yield its response messages; close the response."""
        set_script_prefix(message.content.get("root_path", "") or settings.FORCE_SCRIPT_NAME or "")
        signals.request_started.send(sender=self.__class__, message=message)
        try:
            request = self.request_class(message, read_body(message))
        except RequestAborted:
            # The client is gone: nothing to answer.
            signals.request_finished.send(sender=self.__class__)
            return
        except RequestTimeout:
            response = HttpResponse("Request body timed out", status=408)
        except (UnicodeDecodeError, RequestDataTooBig):
            logger.warning("bad request on %s", message.content.get("path"), exc_info=True)
            response = HttpResponseBadRequest()
        else:
            response = self.get_response(request)
        # response.close() sends request_finished, closing DB connections as WSGI does.
        response._handler_class = self.__class__
        try:
            if not isinstance(response, _AnsweredLater):
                yield from self.response_messages(response)
        finally:
            response.close()

    def process_exception_by_middleware(self, exception: Exception, request):
        """Let a view's :class:`ResponseLater` through: nothing is sent now."""
        if isinstance(exception, ResponseLater):
            return _AnsweredLater()
        return super().process_exception_by_middleware(exception, request)

    @classmethod
    def encode_response(cls, response: HttpResponse) -> list[dict]:
        """The ``http.response`` messages for a Django response, in order."""
        return list(cls.response_messages(response))

    @classmethod
    def response_messages(cls, response: HttpResponse) -> Iterator[dict]:
        """:meth:`encode_response`, one message at a time (for streamed bodies)."""
        headers = [
            (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
            for name, value in response.items()
        ]
        for cookie in response.cookies.values():
            headers.append((b"set-cookie", cookie.output(header="").strip().encode("latin-1")))
        first = {"status": response.status_code, "headers": headers}
        chunks = cls.response_chunks(response)
        pending = next(chunks, None)
        first["content"] = pending or b""
        pending = next(chunks, None)
        first["more_content"] = pending is not None
        yield first
        while pending is not None:
            following = next(chunks, None)
            yield {"content": pending, "more_content": following is not None}
            pending = following

    @classmethod
    def chunk_bytes(cls, data: bytes) -> Iterator[tuple[bytes, bool]]:
        """``(piece, is_last)`` for ``data`` in pieces of ``chunk_size`` (1.x helper)."""
        if not data:
            yield data, True
            return
        for start in range(0, len(data), cls.chunk_size):
            yield data[start : start + cls.chunk_size], start + cls.chunk_size >= len(data)

    @classmethod
    def response_chunks(cls, response: HttpResponse) -> Iterator[bytes]:
        """Body bytes in pieces of at most ``chunk_size``; empty pieces skipped."""
        if isinstance(response, FileResponse) and hasattr(response.file_to_stream, "read"):
            # FileResponse iterates in 4 KiB blocks; read bigger ones instead.
            while block := response.file_to_stream.read(cls.chunk_size):
                yield block
            return
        source = response.streaming_content if response.streaming else [response.content]
        for piece in source:
            for chunk, _ in cls.chunk_bytes(piece):
                if chunk:
                    yield chunk


class _AnsweredLater(HttpResponse):
    """Stands for "no response": the view raised ``ResponseLater`` because
    another consumer will answer on the request's reply channel (long polls)."""


class ViewConsumer(AsgiHandler):
    """Consumer of ``http.request`` that answers with Django views.

    One instance per worker: middleware loads once, as in the WSGI handler.
    It sends what :class:`AsgiHandler` yields to the request's reply channel,
    waiting while that channel is full; a response that fits in one message
    goes through the worker's outbox instead (see :meth:`__call__`).
    """

    def __call__(self, message: Message, **kwargs) -> None:
        if message.reply_channel is None:
            logger.error("http.request message without reply_channel dropped")
            return
        outbox = current_outbox()
        with closing(self.handle(message)) as replies:
            for index, reply in enumerate(replies):
                if index == 0 and not reply.get("more_content") and outbox is not None:
                    # A response in one message goes out when the view has
                    # returned, through the worker's outbox, so the worker
                    # can send it in the same round trip as its look for the
                    # next message. A fresh reply channel has room for it
                    # (the interface holds a reply channel only once a
                    # response is being written), so the outbox's short
                    # retry of a full channel is enough.
                    outbox.add_send(message.channel_backend, message.reply_channel.name, reply)
                else:
                    self.send_reply(message, reply)

    def send_reply(self, message: Message, reply: dict) -> None:
        """Send one ``http.response`` message, waiting while the channel is full."""
        backend, channel = message.channel_backend, message.reply_channel.name
        retry_while_full(
            partial(backend.send, channel, reply), REPLY_FULL_TIMEOUT, first_delay=0.002
        )
