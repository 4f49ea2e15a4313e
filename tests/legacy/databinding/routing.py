"""Routing of the data-binding project (1.x style)."""

from channels import route_class

from .consumers import Demultiplexer
from .whoami import WhoAmI, WhoAmIWithSession

channel_routing = [
    route_class(Demultiplexer, path="^/binding/"),
    route_class(WhoAmI, path="^/whoami/$"),
    route_class(WhoAmIWithSession, path="^/whoami-session/$"),
]
