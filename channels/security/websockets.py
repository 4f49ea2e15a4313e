"""Origin checks for WebSocket handshakes.

Browsers send any page's WebSockets to any host, with cookies: a hostile page
could open a socket to your site as your logged-in user. Checking the
``Origin`` header of ``websocket.connect`` stops that::

    @allowed_hosts_only
    def ws_connect(message):
        message.reply_channel.send({"accept": True})

A refused handshake gets ``{"close": True}`` (the server answers 403).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.http.request import is_same_domain, validate_host

from ..message import header_pairs

__all__ = [
    "BaseOriginValidator",
    "AllowedHostsOnlyOriginValidator",
    "OriginValidator",
    "allowed_hosts_only",
    "origin_of",
]


#: What Django allows when DEBUG is on and ALLOWED_HOSTS is empty.
DEVELOPMENT_HOSTS = (".localhost", "127.0.0.1", "[::1]")


def effective_allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS`` as Django applies it: with DEBUG on and none set,
    localhost and its subdomains, 127.0.0.1 and [::1].

    The one home of this rule: the Origin validators here, and the
    interface server's own Origin check (``runwsserver``, ``runserver``).
    """
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        return list(DEVELOPMENT_HOSTS)
    return allowed


def origin_of(message) -> str | None:
    """The host name of the message's ``Origin`` header, if it has one."""
    for name, value in header_pairs(message.content.get("headers")):
        name = name.decode("latin-1") if isinstance(name, bytes) else name
        if name.lower() != "origin":
            continue
        try:
            text = value.decode("ascii") if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            return None
        return urlparse(text).hostname
    return None


class BaseOriginValidator:
    """Wraps a consumer; refuses handshakes whose origin fails :meth:`validate_origin`.

    Works on function consumers, ``async def`` ones and methods.
    """

    def __new__(cls, func: Callable) -> Any:
        if not inspect.iscoroutinefunction(func):
            return super().__new__(cls)
        # An async consumer must stay a coroutine function for the worker
        # to run it with asgiref: wrap it in one.
        validator = super().__new__(cls)
        validator.__init__(func)

        @functools.wraps(func)
        async def checked(message, *args: Any, **kwargs: Any) -> Any:
            if validator.allows(message):
                return await func(message, *args, **kwargs)
            return None

        return checked

    def __init__(self, func: Callable) -> None:
        functools.update_wrapper(self, func)
        self.func = func

    def __get__(self, instance: Any, owner: type | None = None) -> Callable:
        # Used on a method: bind the method, keep the check.
        if instance is None:
            return self
        return type(self)(self.func.__get__(instance, owner))

    def __call__(self, message, *args: Any, **kwargs: Any) -> Any:
        if self.allows(message):
            return self.func(message, *args, **kwargs)
        return None

    def allows(self, message) -> bool:
        """Check the handshake; refuse it (``{"close": True}``) if its origin fails."""
        if "headers" not in message.content:
            raise ValueError(
                f"{type(self).__name__} checks the handshake's headers; use it on "
                "websocket.connect consumers"
            )
        if self.validate_origin(message, origin_of(message)):
            return True
        message.reply_channel.send({"close": True})
        return False

    def validate_origin(self, message, origin: str | None) -> bool:
        """Whether handshakes from ``origin`` (a host name, or None) are allowed."""
        raise NotImplementedError


class AllowedHostsOnlyOriginValidator(BaseOriginValidator):
    """Allow only origins in ``ALLOWED_HOSTS`` (localhost too when DEBUG and empty).

    Handshakes without an Origin header (not from a browser) are refused.
    """

    def validate_origin(self, message, origin: str | None) -> bool:
        """Whether ``origin`` is one of ``ALLOWED_HOSTS``."""
        return origin is not None and validate_host(origin, effective_allowed_hosts())


#: The Channels 1.x name: ``@allowed_hosts_only`` on a connect consumer.
allowed_hosts_only = AllowedHostsOnlyOriginValidator


class OriginValidator(BaseOriginValidator):
    """Allow only the given origins: ``OriginValidator.allowing(["example.com", ".example.org"])``.

    Patterns follow ``ALLOWED_HOSTS``: ``.example.org`` matches the domain
    and its subdomains, ``*`` matches anything.
    """

    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def allowing(cls, origins: Iterable[str]) -> Callable[[Callable], OriginValidator]:
        """A decorator that allows ``origins``."""
        subclass = type(cls.__name__, (cls,), {"allowed_origins": tuple(origins)})
        return subclass

    def validate_origin(self, message, origin: str | None) -> bool:
        """Whether ``origin`` matches one of ``allowed_origins``."""
        if origin is None:
            return False
        return any(p == "*" or is_same_domain(origin, p) for p in self.allowed_origins)
