"""Routing of the ops project.

``ops.task`` messages pick their outcome with ``action`` (ok, fail, later);
any other action matches no route, so every worker outcome can be produced
on purpose. ``ops.unserved`` is routed nowhere: messages sent there wait.
"""

from channels.routing import route

from .consumers import meta, task, ws_connect, ws_disconnect, ws_receive

channel_routing = [
    route("http.request", meta, path=r"^/meta/$"),
    route("websocket.connect", ws_connect),
    route("websocket.receive", ws_receive),
    route("websocket.disconnect", ws_disconnect),
    route("ops.task", task, action=r"^(ok|fail|later)$"),
]
