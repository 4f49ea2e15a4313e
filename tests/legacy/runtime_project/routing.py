"""Routing lists of the runtime project, imported the Channels 1.x way."""

from channels import include, route  # noqa: F401  (include: 1.x re-exports it here)

from .consumers import report_signals, ws_connect, ws_echo

#: WebSocket echo, and a channel that reports the signals a worker sent.
channel_routing = [
    route("websocket.connect", ws_connect),
    route("websocket.receive", ws_echo),
    route("runtime.signals", report_signals),
]

#: A push-only app: it routes websocket.connect and nothing else (issue 9, item 4).
push_routing = [route("websocket.connect", ws_connect)]
