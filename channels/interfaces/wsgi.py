"""A WSGI interface: serve a channels project with gunicorn or uWSGI.

``channels.interfaces.wsgi:WSGIHandler`` is the WSGI application class;
``gunicorn channels.interfaces.wsgi:application`` serves the default backend
(:func:`get_wsgi_application` builds one in a project's ``wsgi.py``).
Each request becomes an ``http.request`` message; the handler waits on the
request's own reply channel and streams the ``http.response`` messages back.
It runs no project code: workers do.

* a full ``http.request`` channel is a ``503`` with ``Retry-After``;
* no reply within ``CHANNELS_HTTP_TIMEOUT`` seconds (default 60) is a ``504``.

Bodies larger than one chunk travel on a body channel, as the message
standards describe, so a large upload never becomes one huge message.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Iterator
from functools import partial

from django.conf import settings

from ..backends.registry import DEFAULT_CHANNEL_BACKEND, channel_backends
from ..backoff import retry_while_full
from ..exceptions import ChannelFull

#: Body bytes sent inside the ``http.request`` message itself, and per chunk.
BODY_CHUNK_SIZE = 256 * 1024
#: How long a full body channel may block the upload before giving up.
BODY_FULL_TIMEOUT = 30.0


def _status_line(status: int) -> str:
    return f"{status} {http.client.responses.get(status, 'Unknown')}"


def _wsgi_str_to_text(value: str) -> str:
    # WSGI hands us each byte of the URL as one Latin-1 character.
    return value.encode("latin-1").decode("utf-8", "replace")


def message_from_environ(environ: dict, reply_channel: str) -> dict:
    """The ``http.request`` message for a WSGI environ (without its body)."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.lower().replace("_", "-")
        else:
            continue
        headers.append([name.encode("latin-1"), value.encode("latin-1")])
    client = None
    if environ.get("REMOTE_ADDR"):
        client = [environ["REMOTE_ADDR"], int(environ.get("REMOTE_PORT") or 0)]
    return {
        "reply_channel": reply_channel,
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ["REQUEST_METHOD"].upper(),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": _wsgi_str_to_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
        "root_path": _wsgi_str_to_text(environ.get("SCRIPT_NAME", "")),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "body": b"",
        "client": client,
        "server": [environ.get("SERVER_NAME", ""), int(environ.get("SERVER_PORT") or 0)],
    }


class WSGIHandler:
    """WSGI application that hands every request to the workers."""

    def __init__(self, alias: str = DEFAULT_CHANNEL_BACKEND, http_timeout: float | None = None):
        self.alias = alias
        self.http_timeout = (
            http_timeout
            if http_timeout is not None
            else getattr(settings, "CHANNELS_HTTP_TIMEOUT", 60)
        )

    @property
    def backend(self):
        """The channel backend requests go to."""
        return channel_backends[self.alias]

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        backend = self.backend
        reply_channel = backend.new_channel("http.response")
        message = message_from_environ(environ, reply_channel)
        body = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        first = body.read(min(length, BODY_CHUNK_SIZE)) if length else b""
        message["body"] = first
        remaining = length - len(first)
        if remaining > 0:
            message["body_channel"] = backend.new_channel("http.request.body")
        try:
            backend.send("http.request", message)
        except ChannelFull:
            return self.error(
                start_response, 503, "Service busy: try again shortly.", [("Retry-After", "1")]
            )
        if remaining > 0 and not self.send_body(backend, message["body_channel"], body, remaining):
            return self.error(start_response, 504, "Timed out sending the request body.")
        channel, reply = backend.receive_many(
            [reply_channel], block=True, timeout=self.http_timeout
        )
        if channel is None:
            return self.error(start_response, 504, "No worker answered in time.")
        start_response(
            _status_line(reply["status"]),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.get("headers", [])],
        )
        return self.stream(backend, reply_channel, reply)

    def send_body(self, backend, body_channel: str, body, remaining: int) -> bool:
        """Send the rest of the body in chunks; False if it stayed blocked too long."""
        while remaining > 0:
            chunk = body.read(min(remaining, BODY_CHUNK_SIZE))
            if not chunk:
                # Client sent less than Content-Length: tell the worker.
                backend.send(body_channel, {"closed": True})
                return True
            remaining -= len(chunk)
            piece = {"content": chunk, "more_content": remaining > 0}
            try:
                retry_while_full(
                    partial(backend.send, body_channel, piece),
                    BODY_FULL_TIMEOUT,
                    first_delay=0.01,
                    max_delay=0.01,
                )
            except ChannelFull:
                return False
        return True

    def stream(self, backend, reply_channel: str, reply: dict) -> Iterator[bytes]:
        """Yield the body of the first reply and every following chunk."""
        yield reply.get("content", b"")
        while reply.get("more_content"):
            # Each streamed chunk gets a fresh timeout, so long streams work.
            channel, reply = backend.receive_many(
                [reply_channel], block=True, timeout=self.http_timeout
            )
            if channel is None:
                return
            yield reply.get("content", b"")

    @staticmethod
    def error(start_response, status: int, text: str, extra=()) -> list[bytes]:
        """Answer with a short plain-text error."""
        body = text.encode()
        start_response(
            _status_line(status),
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                *extra,
            ],
        )
        return [body]


def get_wsgi_application(alias: str = DEFAULT_CHANNEL_BACKEND) -> WSGIHandler:
    """Set Django up and return the WSGI application (for ``wsgi.py``)."""
    import django

    django.setup(set_prefix=False)
    return WSGIHandler(alias)


def __getattr__(name: str):
    # ``gunicorn channels.interfaces.wsgi:application`` (DJANGO_SETTINGS_MODULE
    # set) needs a ready-made app; build it on first access only.
    if name == "application":
        app = get_wsgi_application()
        globals()["application"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
