"""Routing of the liveblog project (1.x style): connect and disconnect only."""

from channels import route

from .posts.consumers import connect_blog, disconnect_blog

channel_routing = [
    route("websocket.connect", connect_blog, path=r"^/liveblog/(?P<slug>[^/]+)/stream/$"),
    route("websocket.disconnect", disconnect_blog, path=r"^/liveblog/(?P<slug>[^/]+)/stream/$"),
]
