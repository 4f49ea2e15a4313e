"""``WSClient``: a test client that speaks WebSocket messages, with cookies and login."""

from __future__ import annotations

import json as json_module
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

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
        self._headers: dict[str, bytes] = {}
        self._cookies: dict[str, str] = {}

    # --- cookies, headers, session ---------------------------------------

    def set_cookie(self, key: str, value: str) -> None:
        """Send cookie ``key`` with every message."""
        self._cookies[key] = value

    def set_header(self, key: str, value: str | bytes) -> None:
        """Send header ``key`` with every message."""
        self._headers[key.lower()] = value if isinstance(value, bytes) else value.encode("latin-1")

    def get_cookies(self) -> dict[str, str]:
        """The cookies sent with each message."""
        return dict(self._cookies)

    @property
    def headers(self) -> list[list[bytes]]:
        """Headers as a server sends them: ``[[name, value], ...]`` in bytes."""
        headers = [[name.encode("latin-1"), value] for name, value in self._headers.items()]
        if self._cookies and "cookie" not in self._headers:
            cookie = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
            headers.append([b"cookie", cookie.encode("latin-1")])
        return headers

    @property
    def session(self) -> SessionBase:
        """The Django session of this client's cookie (created if it has none)."""
        engine = import_module(settings.SESSION_ENGINE)
        key = self._cookies.get(settings.SESSION_COOKIE_NAME)
        if key:
            return engine.SessionStore(key)
        session = engine.SessionStore()
        session.save()
        self._cookies[settings.SESSION_COOKIE_NAME] = session.session_key
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
        self._cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key

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
        content.setdefault("headers", self.headers)
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
    ) -> bool:
        """``send`` then ``consume``; see :meth:`consume` for ``check_accept``."""
        self.send(channel, content, text, path)
        return self.consume(channel, fail_on_none=fail_on_none, check_accept=check_accept)

    def consume(  # type: ignore[override]
        self, channel: str, fail_on_none: bool = True, check_accept: bool = True
    ) -> bool:
        """Run the next message's consumer; after a connect, expect the accept.

        With ``check_accept`` a ``websocket.connect`` must be answered with
        ``{"accept": True}`` (which is taken off the reply channel).
        """
        result = super().consume(channel, fail_on_none=fail_on_none)
        if result and channel == "websocket.connect" and check_accept:
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


#: Channels 1.0 name of :class:`WSClient`.
HttpClient = WSClient
