"""``name_that_thing``: a readable dotted name for a consumer (Channels 1.x name).

Workers use it in log lines; Channels 1.x projects import it from here.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["name_that_thing"]


def name_that_thing(thing: Any) -> str:
    """``module.name`` of a function or class, ``module.Class.method`` of a
    method, and the class's name for any other object (a callable-object
    consumer, say)."""
    if inspect.ismethod(thing):
        owner = thing.__self__
        owner_name = name_that_thing(owner if isinstance(owner, type) else type(owner))
        return f"{owner_name}.{thing.__func__.__name__}"
    if isinstance(thing, type) or inspect.isroutine(thing):
        module = getattr(thing, "__module__", None)
        name = getattr(thing, "__name__", None)
        if name is None:
            return repr(thing)
        return f"{module}.{name}" if module else name
    return name_that_thing(type(thing))
