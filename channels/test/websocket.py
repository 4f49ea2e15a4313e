"""``WSClient``: a test client that speaks WebSocket messages, with cookies and login."""

from __future__ import annotations

import json as json_module
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.http.cookie import SimpleCookie

from .client import Client


class WSClient(Client):
    """Sends WebSocket (and HTTP) messages with a path, headers and cookies.

    ``login()``/``force_login()`` log a user in to a Django session whose
    cookie goes with every message, so ``http_session``,
    ``channel_session_user_from_http`` and friends see that user.
    ``ordered=True`` numbers messages with ``order`` as a server would.
    A consumer's exception reaches the test, as in Channels 1.x.
    """

    raise_exceptions = True

    def __init__(self, alias: str | None = None, ordered: bool = False, **kwargs: Any) -> None:
        if alias is not None:
            kwargs["alias"] = alias
        super().__init__(**kwargs)
        self._ordered = ordered
        self.order = 0
        self._headers: dict[str, str | bytes] = {}
        self._cookies: dict[str, str] = {}
        self._session: SessionBase | None = None
        self._session_key: str | None = None

    # --- cookies, headers, session ---------------------------------------

    def set_cookie(self, key: str, value: str) -> None:
        """Send cookie ``key`` with every message."""
        self._cookies[key] = value

    def set_header(self, key: str, value: str | bytes) -> None:
        """Send header ``key`` with every message (cookies go through :meth:`set_cookie`)."""
        if key.lower() == "cookie":
            raise ValueError("use set_cookie() for the cookie header")
        self._headers[key] = value

    def get_cookies(self) -> dict[str, str]:
        """The cookies sent with each message (the session's included)."""
        return dict(self._cookies)

    @property
    def headers(self) -> dict[str, str | bytes]:
        """The headers sent with each message, as Channels 1.x had them: a dict
        of the headers set, plus ``"cookie"``, the encoded cookies (bytes)."""
        headers = dict(self._headers)
        headers["cookie"] = encoded_cookies(self._cookies)
        return headers

    def _header_pairs(self) -> list[list[bytes]]:
        """:attr:`headers` as a server sends them: ``[[name, value], ...]`` in bytes."""
        return [
            [_latin1(name).lower(), _latin1(value)]
            for name, value in self.headers.items()
            if value or name != "cookie"
        ]

    @property
    def session(self) -> SessionBase:
        """The Django session of this client's cookie (created if it has none).

        The same object until the cookie changes, so
        ``client.session["rooms"] = [...]`` then ``client.session.save()``
        works, as in Channels 1.x.
        """
        key = self._cookies.get(settings.SESSION_COOKIE_NAME)
        if self._session is not None and self._session_key == key:
            return self._session
        engine = import_module(settings.SESSION_ENGINE)
        if key:
            session = engine.SessionStore(key)
        else:
            session = engine.SessionStore()
            session.save()
            key = self._cookies[settings.SESSION_COOKIE_NAME] = session.session_key
        self._session, self._session_key = session, key
        return session

    def login(self, **credentials: Any) -> bool:
        """Log in with ``authenticate(**credentials)``; False if that fails."""
        from django.contrib.auth import authenticate

        user = authenticate(**credentials)
        if user is None or not apps.is_installed("django.contrib.sessions"):
            return False
        self._login(user)
        return True

    def force_login(self, user, backend: str | None = None) -> None:
        """Log ``user`` in without credentials."""
        if backend is None:
            backend = settings.AUTHENTICATION_BACKENDS[0]
        user.backend = backend
        self._login(user, backend)

    def _login(self, user, backend: str | None = None) -> None:
        from django.contrib.auth import login

        request = HttpRequest()
        request.session = self.session
        login(request, user, backend)
        request.session.save()
        self._session_key = request.session.session_key
        self._cookies[settings.SESSION_COOKIE_NAME] = self._session_key

    def logout(self) -> None:
        """End the session and forget its cookie."""
        from django.contrib.auth import logout

        if settings.SESSION_COOKIE_NAME in self._cookies:
            request = HttpRequest()
            request.session = self.session
            request.user = None
            logout(request)
            del self._cookies[settings.SESSION_COOKIE_NAME]

    # --- messages --------------------------------------------------------

    def _content(self, content: dict | None, text: Any, path: str) -> dict:
        content = dict(content or {})
        content.setdefault("reply_channel", self.reply_channel)
        path, _, query = path.partition("?")
        content.setdefault("path", path)
        if query:
            content.setdefault("query_string", query.encode("latin-1"))
        content.setdefault("headers", self._header_pairs())
        if self._ordered:
            if "order" in content:
                raise ValueError('do not set "order" yourself on a WSClient(ordered=True)')
            content["order"] = self.order
            self.order += 1
        text = text if text is not None else content.get("text")
        if text is not None:
            content["text"] = text if isinstance(text, str) else json_module.dumps(text)
        return content

    def send(  # type: ignore[override]
        self, to: str, content: dict | None = None, text: Any = None, path: str = "/"
    ) -> None:
        """Send to ``to``; ``text`` that is not a str is sent as JSON."""
        self.backend.send(to, self._content(content, text, path))

    def send_and_consume(  # type: ignore[override]
        self,
        channel: str,
        content: dict | None = None,
        text: Any = None,
        path: str = "/",
        fail_on_none: bool = True,
        check_accept: bool = True,
    ) -> Any:
        """``send`` then ``consume``; see :meth:`consume` for ``check_accept``."""
        self.send(channel, content, text, path)
        return self.consume(channel, fail_on_none=fail_on_none, check_accept=check_accept)

    def consume(  # type: ignore[override]
        self, channel: str, fail_on_none: bool = True, check_accept: bool = True
    ) -> Any:
        """Run the next message's consumer and return its result; after a
        connect, expect the accept.

        With ``check_accept`` a ``websocket.connect`` must be answered with
        ``{"accept": True}`` (which is taken off the reply channel).
        """
        consumed, result = self._consume(channel, fail_on_none)
        if consumed and channel == "websocket.connect" and check_accept:
            received = self.receive(json=False)
            if received != {"accept": True}:
                raise AssertionError(f"connection rejected: {received!r} != {{'accept': True}}")
        return result

    def receive(self, json: bool = True) -> Any:  # type: ignore[override]
        """The next reply: its ``text`` decoded as JSON (``json=True``), else
        its text, else the whole message; None if there is none."""
        content = super().receive()
        if content is None:
            return None
        text = content.get("text")
        if json and isinstance(text, str):
            return json_module.loads(text)
        return content.get("text", content)


def _latin1(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def encoded_cookies(cookies: dict[str, str]) -> bytes:
    """A ``Cookie`` header value for ``cookies`` (quoted where needed)."""
    jar = SimpleCookie()
    for key, value in cookies.items():
        jar[key] = value
    return "; ".join(morsel.OutputString() for morsel in jar.values()).encode("latin-1")


#: Channels 1.0 name of :class:`WSClient`.
HttpClient = WSClient
