"""More bindings of IntegerValue for the tests: groups that change with the
value, refused inbound actions, ``exclude``, ``send_members`` and the older
``group_names(self, instance, action)`` signature."""

from channels.binding.websockets import WebsocketBinding, WebsocketBindingWithMembers
from channels.generic.websockets import WebsocketDemultiplexer

from .values.models import IntegerValue, IntegerValueBinding


class ParityBinding(WebsocketBinding):
    """Groups by parity, so a change of value moves an instance between groups;
    refuses every inbound action."""

    model = "values.IntegerValue"
    stream = "parity"
    fields = ["__all__"]

    @classmethod
    def group_names(cls, instance):
        return [f"parity-{instance.value % 2}"]

    def has_permission(self, user, action, pk):
        return False


class NameOnlyBinding(WebsocketBindingWithMembers):
    """exclude, send_members and the old ``group_names(self, instance, action)``."""

    model = IntegerValue
    stream = "names"
    exclude = ["value"]
    send_members = ["name.upper", "pk"]

    def group_names(self, instance, action):
        return ["names"]

    def has_permission(self, user, action, pk):
        return True


class ParityDemultiplexer(WebsocketDemultiplexer):
    consumers = {"parity": ParityBinding.consumer, "intval": IntegerValueBinding.consumer}
