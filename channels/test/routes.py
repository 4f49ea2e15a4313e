"""``apply_routes``: run a test against routes of its own."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from ..backends.registry import DEFAULT_CHANNEL_BACKEND
from ..routing import Include, Route, Router, include
from ..workers.routing import load_router, serving_router

#: alias -> stack of routing lists pushed by apply_routes (innermost last)
_overrides: dict[str, list[list]] = {}


def _normalise(routes: Any) -> list:
    # 1.x accepted one route, a list of routes, or a list of routing lists.
    if isinstance(routes, Route | Include):
        return [routes]
    routes = list(routes)
    if routes and isinstance(routes[0], list | tuple):
        return [include(list(inner)) for inner in routes]
    return routes


def router_for(alias: str = DEFAULT_CHANNEL_BACKEND) -> Router:
    """The router test clients use: ``apply_routes``' if active, else the settings'."""
    stack = _overrides.get(alias)
    # Either way, as a worker routes: views take the HTTP requests no route takes.
    return serving_router(stack[-1]) if stack else load_router(alias)


class apply_routes:  # noqa: N801 - the Channels 1.x name
    """Swap the routing test clients use, as a context manager or decorator.

    ::

        with apply_routes([route("websocket.receive", echo)]):
            client.send_and_consume("websocket.receive", {"text": "hi"})

        @apply_routes([MyConsumer.as_route(path="^/live/$")])
        class LiveTests(ChannelTestCase): ...

    ``routes`` is a route, a list of routes, or a list of such lists.
    """

    def __init__(
        self, routes: Any, aliases: Iterable[str] = (DEFAULT_CHANNEL_BACKEND,)
    ) -> None:
        self.routes = _normalise(routes)
        self.aliases = list(aliases)

    def enter(self) -> None:
        """Make these routes the active ones."""
        for alias in self.aliases:
            _overrides.setdefault(alias, []).append(self.routes)

    def exit(self, *exc_info: Any) -> None:
        """Go back to the routes active before."""
        for alias in self.aliases:
            _overrides[alias].pop()

    def __enter__(self) -> apply_routes:
        self.enter()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.exit()

    def __call__(self, test: Callable | type) -> Callable | type:
        if isinstance(test, type):
            # A test class: active from setUp to tearDown of each test.
            old_setup, old_teardown = test.setUp, test.tearDown

            def setUp(this):  # noqa: N802 - unittest's name
                self.enter()
                old_setup(this)

            def tearDown(this):  # noqa: N802
                try:
                    old_teardown(this)
                finally:
                    self.exit()

            test.setUp, test.tearDown = setUp, tearDown
            return test

        @functools.wraps(test)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self:
                return test(*args, **kwargs)

        return inner
