"""The health endpoint (``--health-path``, default ``/__channels__/health``).

It answers from the interface server and its backend alone, without a
worker: 200 ``{"status": "ok", ...}`` when the backend answers and the
server is not stopping, 503 otherwise. Anyone who can reach the server can
ask, so the answer is generic (the backend's error goes to the log, not to
the client) and the work is bounded: at most one backend check runs at a
time, its result serves every request for ``CACHE_SECONDS``, and requests
waiting for a check get 503 after ``WAIT_SECONDS`` while it goes on.
Operators can move the endpoint, turn it off (an empty path) or limit it to
some Host names (``--health-hosts``).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.http.request import split_domain_port, validate_host
from twisted.internet.threads import deferToThreadPool

if TYPE_CHECKING:
    from .host import ServerState
    from .http_protocol import ChannelRequest

logger = logging.getLogger("channels.interfaces")

#: How long one check's result answers every request.
CACHE_SECONDS = 1.0
#: How long a request waits for a check before it is told 503.
WAIT_SECONDS = 3.0


class HealthCheck:
    """Answers health requests for the server (reactor thread)."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.path = server.options.health_path
        self.hosts = list(server.options.health_hosts)
        self._result: bool | None = None
        self._checked_at = float("-inf")
        #: requests waiting for the running check, with their give-up timers
        self._waiting: list[tuple[ChannelRequest, Any]] = []
        self._running = False

    def serves(self, path: str, host: bytes) -> bool:
        """Whether a request for ``path`` on ``host`` is a health request."""
        if not self.path or path != self.path:
            return False
        if not self.hosts:
            return True
        domain, _ = split_domain_port(host.decode("latin-1").lower())
        return bool(domain) and validate_host(domain, self.hosts)

    def answer(self, request: ChannelRequest) -> None:
        """Answer ``request`` now from a fresh result, or after the next check."""
        now = self.server.reactor.seconds()
        if now - self._checked_at < CACHE_SECONDS:
            return self._respond(request, self._result)
        timer = self.server.reactor.callLater(WAIT_SECONDS, self._give_up, request)
        self._waiting.append((request, timer))
        if not self._running:
            self._start()

    def _start(self) -> None:
        self._running = True
        server = self.server
        # Any cheap read proves the backend answers; a group nobody uses.
        d = deferToThreadPool(
            server.reactor, server.blocking_pool, server.backend.group_channels, "channels.health"
        )
        d.addCallbacks(lambda _: self._checked(True), self._failed)

    def _failed(self, failure: Any) -> None:
        if self._result is not False:
            logger.warning("health check: backend unreachable: %s", failure.getErrorMessage())
        self._checked(False)

    def _checked(self, ok: bool) -> None:
        if ok and self._result is False:
            logger.info("health check: backend reachable again")
        self._running = False
        self._result = ok
        self._checked_at = self.server.reactor.seconds()
        waiting, self._waiting = self._waiting, []
        for request, timer in waiting:
            timer.cancel()
            self._respond(request, ok)

    def _give_up(self, request: ChannelRequest) -> None:
        # The check is still running (it goes on; the next request reuses it).
        self._waiting = [(r, t) for r, t in self._waiting if r is not request]
        self._respond(request, False)

    def _respond(self, request: ChannelRequest, backend_ok: bool | None) -> None:
        if request.finished or request._disconnected:
            return
        server = self.server
        ok = bool(backend_ok) and not server.stopping
        body = {
            "status": "ok" if ok else "unavailable",
            "backend": "reachable" if backend_ok else "unreachable",
            "connections": len(server.connections),
            "stopping": server.stopping,
        }
        data = (json.dumps(body) + "\n").encode()
        request.setResponseCode(200 if ok else 503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"content-length", str(len(data)).encode())
        request.setHeader(b"cache-control", b"no-store")
        request.write(data)
        request.finish()
