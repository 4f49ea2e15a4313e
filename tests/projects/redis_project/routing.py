"""Routing of the Redis fault-test project."""

from channels.routing import route

from .consumers import ping

channel_routing = [route("redis.ping", ping)]
