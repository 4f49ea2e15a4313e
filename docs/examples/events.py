"""Server-sent events fed from anywhere through a group."""

from channels.generic.http import ServerSentEventsConsumer


class Prices(ServerSentEventsConsumer):
    groups = ["prices"]


channel_routing = [Prices.as_route(path=r"^/prices/$")]


def publish(price: float) -> None:
    """Call from any process: a view, a worker, a management command."""
    Prices.group_send_event("prices", f"{price:.2f}", event="price")
