"""Routing of the data-binding project (1.x style)."""

from channels.routing import route_class  # 1.x: from channels import route_class

from .consumers import Demultiplexer

channel_routing = [
    route_class(Demultiplexer, path="^/binding/"),
]
