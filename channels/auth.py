"""Django users in consumers, and Django-style permission checks.

``http_session_user``
    ``message.user`` from the HTTP session (cookie or ``session_key``).
``channel_session_user``
    ``message.user`` from the channel session, where
    ``channel_session_user_from_http`` put it when the socket connected.
``login_required`` / ``permission_required``
    refuse messages of users who are not logged in (or lack a permission),
    closing the socket with a chosen code (4001 / 4003 by default).

A WebSocket consumer typically reads::

    @channel_session_user_from_http
    @login_required(close_code=4001)
    def ws_connect(message):
        message.reply_channel.send({"accept": True})

    @channel_session_user
    def ws_receive(message):
        ... message.user ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import auth
from django.core.exceptions import ImproperlyConfigured

from .decorators import SKIP, consumer_decorator
from .sessions import channel_and_http_session, channel_session, http_session

__all__ = [
    "channel_session_user",
    "http_session_user",
    "channel_session_user_from_http",
    "channel_and_http_session_user_from_http",
    "transfer_user",
    "login_required",
    "permission_required",
]

#: Session keys that carry the logged-in user (as django.contrib.auth sets them).
USER_SESSION_KEYS = (auth.SESSION_KEY, auth.BACKEND_SESSION_KEY, auth.HASH_SESSION_KEY)


class _SessionRequest:
    """The one thing ``auth.get_user`` reads from a request: its session."""

    def __init__(self, session) -> None:
        self.session = session


def user_of(session) -> object:
    """The user a session is logged in as, or ``AnonymousUser``."""
    if session is None:
        # Imported here so that this module imports before the app registry
        # is ready (Channels 1.x projects import it from settings-time code).
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()
    return auth.get_user(_SessionRequest(session))


def transfer_user(from_session, to_session) -> None:
    """Copy the logged-in user from one session to another."""
    for key in USER_SESSION_KEYS:
        if key in from_session:
            to_session[key] = from_session[key]


def _user_from_channel_session(message) -> bool:
    message.user = user_of(message.channel_session)
    return True


def _user_from_http_session(message) -> bool:
    message.user = user_of(message.http_session)
    return True


def channel_session_user(func: Callable) -> Callable:
    """``channel_session``, plus ``message.user`` loaded from it."""
    return channel_session(consumer_decorator(func, _user_from_channel_session))


def http_session_user(func: Callable) -> Callable:
    """``http_session``, plus ``message.user`` (``AnonymousUser`` without a session)."""
    return http_session(consumer_decorator(func, _user_from_http_session))


def _copy_http_user(message) -> bool:
    if message.http_session is not None:
        transfer_user(message.http_session, message.channel_session)
    return True


def channel_session_user_from_http(func: Callable) -> Callable:
    """For ``websocket.connect``: copy the HTTP session's user into the channel session.

    The consumer gets ``message.user``, ``message.http_session`` and
    ``message.channel_session``; later consumers of the socket use
    :func:`channel_session_user` to get the same user back.
    """
    return http_session_user(channel_session(consumer_decorator(func, _copy_http_user)))


def channel_and_http_session_user_from_http(func: Callable) -> Callable:
    """``channel_and_http_session`` plus the user copy of ``channel_session_user_from_http``."""
    return channel_and_http_session(consumer_decorator(func, _copy_and_load_user))


def _copy_and_load_user(message) -> bool:
    _copy_http_user(message)
    return _user_from_channel_session(message)


# ---------------------------------------------------------------------------
# refusing users
# ---------------------------------------------------------------------------


def reject(message, close_code: int | bool = True, status: int = 403) -> None:
    """Refuse a message's connection.

    A WebSocket is closed with ``close_code`` (before it is accepted the
    server refuses the handshake); an HTTP request gets a ``status`` reply.
    """
    if message.reply_channel is None:
        return
    if message.channel.name.startswith("http."):
        message.reply_channel.send(
            {
                "status": status,
                "headers": [[b"content-type", b"text/plain"]],
                "content": b"Forbidden" if status == 403 else b"Unauthorized",
                "more_content": False,
            }
        )
    else:
        message.reply_channel.send({"close": close_code})


def _require_user(message, decorator: str):
    user = getattr(message, "user", None)
    if user is None:
        raise ImproperlyConfigured(
            f"{decorator} needs message.user: put it below @channel_session_user, "
            "@http_session_user or @channel_session_user_from_http"
        )
    return user


def user_check(
    test: Callable[[object], bool], close_code: int, name: str = "user_check"
) -> Callable[[Callable], Callable]:
    """A decorator that runs the consumer only if ``test(message.user)`` passes.

    Otherwise the connection is refused with ``close_code`` (see :func:`reject`).
    Like Django's ``user_passes_test``.
    """

    def enter(message):
        if test(_require_user(message, name)):
            return True
        reject(message, close_code)
        return SKIP

    def decorator(func: Callable) -> Callable:
        return consumer_decorator(func, enter)

    return decorator


def login_required(func: Callable | None = None, *, close_code: int = 4001) -> Callable:
    """Refuse users who are not logged in, closing with ``close_code`` (4001).

    Use as ``@login_required`` or ``@login_required(close_code=4401)``, below
    a decorator that sets ``message.user``.
    """
    decorator = user_check(lambda u: u.is_authenticated, close_code, "login_required")
    return decorator if func is None else decorator(func)


def permission_required(
    perm: str | Iterable[str], *, close_code: int = 4003
) -> Callable[[Callable], Callable]:
    """Refuse users without permission(s) ``perm``, closing with ``close_code`` (4003)."""
    perms = (perm,) if isinstance(perm, str) else tuple(perm)
    return user_check(lambda u: u.has_perms(perms), close_code, "permission_required")
