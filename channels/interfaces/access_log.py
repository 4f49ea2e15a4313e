"""The interface server's access log (``runwsserver --access-log FILE``).

One line per finished HTTP request, refused request head, and WebSocket
connect and disconnect, in one of two formats:

* ``common`` (the default): the Common Log Format that web servers write
  and log tools read, with ``WSCONNECT``/``WSDISCONNECT`` as the request
  line of WebSocket events (as Daphne writes them);
* ``json``: one JSON object a line, for log shippers (fields below).

A log that cannot be written (disk full, closed pipe) never fails a request.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

#: The formats ``--access-log-format`` accepts.
FORMATS = ("common", "json")


class AccessLog:
    """Writes access log lines to ``stream`` in ``format`` (reactor thread).

    JSON lines carry ``time`` (ISO 8601, UTC), ``event`` (``http``,
    ``websocket.connect``, ``websocket.disconnect``), ``client``, and, as
    they apply, ``method``, ``path``, ``protocol``, ``status``, ``size``
    (body bytes sent).
    """

    def __init__(self, stream: IO[str], format: str = "common") -> None:
        if format not in FORMATS:
            raise ValueError(f"access log format must be one of {', '.join(FORMATS)}")
        self.stream = stream
        self.format = format

    def http(
        self, client: str | None, method: str, path: str, protocol: str, status: int, size: int
    ) -> None:
        """A finished HTTP request."""
        if self.format == "json":
            self._json(
                event="http",
                client=client,
                method=method,
                path=path,
                protocol=protocol,
                status=status,
                size=size,
            )
        else:
            self._common(client, f"{method} {path} {protocol}", status, size)

    def refused(self, client: str | None, status: int) -> None:
        """A request refused before its head was complete (no request line)."""
        if self.format == "json":
            self._json(event="http", client=client, status=status)
        else:
            self._common(client, "-", status)

    def websocket(self, event: str, client: str | None, path: str) -> None:
        """A WebSocket ``connect`` or ``disconnect``."""
        if self.format == "json":
            self._json(event=f"websocket.{event}", client=client, path=path)
        else:
            self._common(client, f"WS{event.upper()} {path}")

    def _common(self, client: str | None, request_line: str, status: Any = "-", size: Any = "-"):
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
        self._write(f'{client or "-"} - - [{when}] "{request_line}" {status} {size}\n')

    def _json(self, **fields: Any) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._write(json.dumps({"time": stamp, **fields}, separators=(",", ":")) + "\n")

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def open_access_log(path: str | None, format: str = "common") -> AccessLog | None:
    """The access log for ``--access-log PATH`` ('-': stdout), or None."""
    if not path:
        return None
    if path == "-":
        return AccessLog(sys.stdout, format)
    return AccessLog(open(path, "a", buffering=1), format)  # noqa: SIM115 - lives with the process
