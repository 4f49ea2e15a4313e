"""The demultiplexer of the 1.x Data Binding docs."""

from channels.generic.websockets import WebsocketDemultiplexer

from .values.models import IntegerValueBinding


class Demultiplexer(WebsocketDemultiplexer):
    consumers = {
        "intval": IntegerValueBinding.consumer,
    }

    def connection_groups(self):
        return ["intval-updates"]
