"""Calling a consumer, or a consumer's handler, that may be ``async def``.

Workers are synchronous: an ``async def`` consumer (or a class whose
``__call__`` is one, or a class-based consumer's ``async def`` handler
method) is run to completion through asgiref's ``async_to_sync``, which
carries the context (the open outbox) into the event loop and back. The
worker's dispatch and the class-based consumers call through here, so both
decide "is it async?" the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync

__all__ = ["call_consumer", "is_async_callable"]


def is_async_callable(func: Callable) -> bool:
    """Whether calling ``func`` returns a coroutine: an ``async def``
    function or method, or an object whose class defines ``async def __call__``."""
    if inspect.iscoroutinefunction(func):
        return True
    if inspect.isfunction(func) or inspect.ismethod(func) or isinstance(func, type):
        return False
    return inspect.iscoroutinefunction(type(func).__call__)


def call_consumer(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)``; an async one is run to completion."""
    if is_async_callable(func):
        return async_to_sync(func)(*args, **kwargs)
    return func(*args, **kwargs)
