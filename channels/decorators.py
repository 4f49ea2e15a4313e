"""Building consumer decorators: one ``enter``/``exit`` pair gives a wrapper
for plain and for ``async def`` consumers alike (sessions, auth, ordering)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

#: Returned by an ``enter`` step to say "do not run the consumer".
SKIP = object()


def find_message(args: tuple) -> Any:
    """The message among a consumer's first two positional arguments.

    The first for a function consumer, the second for a method (as Channels
    1.x decorators allowed: ``@channel_session`` on ``def connect(self, message)``).
    """
    from .message import Message

    for arg in args[:2]:
        if isinstance(arg, Message):
            return arg
    raise ValueError(
        "a consumer decorator found no Message among the consumer's first two arguments"
    )


def consumer_decorator(
    func: Callable,
    enter: Callable[[Any], Any],
    exit: Callable[[Any, Any, BaseException | None], None] | None = None,
) -> Callable:
    """Wrap consumer ``func`` with ``enter(message)`` and ``exit(message, state, exc)``.

    ``enter`` runs before the consumer and returns a state (or :data:`SKIP`
    to not run it); ``exit`` runs after it with that state and the exception
    the consumer raised, if any. Both are synchronous: for an ``async def``
    consumer they run through ``sync_to_async`` on the worker's own thread,
    where database connections and the consumer's outbox live.
    """
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_inner(*args, **kwargs):
            message = find_message(args)
            state = await sync_to_async(enter)(message)
            if state is SKIP:
                return None
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                if exit is not None:
                    await sync_to_async(exit)(message, state, exc)
                raise
            if exit is not None:
                await sync_to_async(exit)(message, state, None)
            return result

        return async_inner

    @functools.wraps(func)
    def inner(*args, **kwargs):
        message = find_message(args)
        state = enter(message)
        if state is SKIP:
            return None
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            if exit is not None:
                exit(message, state, exc)
            raise
        if exit is not None:
            exit(message, state, None)
        return result

    return inner
