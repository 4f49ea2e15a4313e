"""Data binding over multiplexed JSON WebSockets (the Channels 1.x format).

Outbound, each group member gets a text frame::

    {"stream": "intval",
     "payload": {"action": "update", "pk": 3, "data": {"name": "x", "value": 5},
                 "model": "values.integervalue"}}

Inbound, a client sends on the binding's stream (through a
:class:`~channels.generic.websockets.WebsocketDemultiplexer` whose
``consumers`` maps the stream to ``MyBinding.consumer``)::

    {"stream": "intval", "payload": {"action": "create", "data": {...}}}
    {"stream": "intval", "payload": {"action": "update", "pk": 3, "data": {...}}}
    {"stream": "intval", "payload": {"action": "delete", "pk": 3}}
"""

from __future__ import annotations

import json
from typing import Any

from django.core import serializers
from django.core.serializers.base import DeserializedObject
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model

from ..auth import channel_session_user_from_http
from ..generic.websockets import WebsocketDemultiplexer
from ..sessions import enforce_ordering
from .base import Binding


class WebsocketBinding(Binding):
    """A :class:`~channels.binding.base.Binding` speaking multiplexed JSON frames.

    Implement ``group_names`` and ``has_permission``; optionally
    ``serialize_data``, ``create`` and ``update``. ``http_user``,
    ``strict_ordering`` and ``slight_ordering`` apply the decorators of the
    same names to inbound messages, as on the generic consumers.
    """

    model = None
    stream: str | None = None
    http_user = False
    strict_ordering = False
    slight_ordering = False

    # --- outbound ------------------------------------------------------------

    @classmethod
    def encode(cls, stream: str, payload: dict) -> dict:
        """A text frame carrying ``payload`` on ``stream``."""
        return WebsocketDemultiplexer.encode(stream, payload)

    def serialize(self, instance: Model, action: str) -> dict:
        """``{"action", "pk", "data", "model"}`` for ``instance``."""
        return {
            "action": action,
            "pk": instance.pk,
            "data": self.serialize_data(instance),
            "model": self.model_label,
        }

    def serialize_data(self, instance: Model) -> dict:
        """The bound fields of ``instance`` as JSON-ready values (Django's serializer)."""
        fields = None if self._all_fields() else self._bound_field_names(instance)
        data = serializers.serialize("json", [instance], fields=fields)
        return json.loads(data)[0]["fields"]

    def _all_fields(self) -> bool:
        return self.exclude is None and self.fields in ("__all__", ["__all__"], ("__all__",))

    def _bound_field_names(self, instance: Model | None = None) -> list[str]:
        """The fields sent out and accepted in (the primary key never accepted)."""
        meta = self.model._meta
        names = [f.name for f in meta.get_fields() if f.concrete and not f.primary_key]
        if self._all_fields():
            return names
        if self.fields is not None:
            return [name for name in self.fields if name in names]
        return [name for name in names if name not in self.exclude]

    # --- inbound -------------------------------------------------------------

    @classmethod
    def get_handler(cls):
        """The base handler plus ``http_user`` and ordering, as the generic consumers."""
        if cls.http_user:
            cls.channel_session_user = True
        handler = super().get_handler()
        if cls.http_user:
            handler = channel_session_user_from_http(handler)
        if cls.strict_ordering:
            return enforce_ordering(handler)
        if cls.slight_ordering:
            return enforce_ordering(handler, slight=True)
        return handler

    @classmethod
    def trigger_inbound(cls, message, **kwargs: Any) -> None:
        """Act on received frames only (a demultiplexer also passes connect and disconnect)."""
        if message.channel.name != "websocket.receive":
            return
        super().trigger_inbound(message, **kwargs)

    def deserialize(self, message) -> tuple[str, Any, Any]:
        """``(action, pk, data)`` of the frame's payload (the demultiplexer put it in ``text``)."""
        try:
            body = json.loads(message["text"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"binding frame is not a JSON payload: {exc}") from None
        if not isinstance(body, dict) or "action" not in body:
            raise ValueError("binding payload needs an 'action' (create, update or delete)")
        return body["action"], body.get("pk"), body.get("data")

    def _hydrate(self, pk: Any, data: dict) -> DeserializedObject:
        """An unsaved instance built from the bound fields of ``data``."""
        if not isinstance(data, dict):
            raise ValueError("binding 'data' must be a JSON object of field values")
        allowed = set(self._bound_field_names())
        fields = {name: value for name, value in data.items() if name in allowed}
        found = serializers.deserialize(
            "python", [{"model": self.model_label, "pk": pk, "fields": fields}]
        )
        return next(iter(found))

    def create(self, data: dict) -> None:
        """Save a new instance made from ``data``."""
        hydrated = self._hydrate(None, data)
        hydrated.object.save()
        for name, values in (hydrated.m2m_data or {}).items():
            getattr(hydrated.object, name).set(values)

    def update(self, pk: Any, data: dict) -> None:
        """Set the bound fields given in ``data`` on instance ``pk`` and save it."""
        instance = self.model._default_manager.get(pk=pk)
        hydrated = self._hydrate(pk, data)
        m2m = hydrated.m2m_data or {}
        for name in data:
            if name in m2m:
                getattr(instance, name).set(m2m[name])
            elif name in self._bound_field_names():
                setattr(instance, name, getattr(hydrated.object, name))
        instance.save()


class WebsocketBindingWithMembers(WebsocketBinding):
    """A :class:`WebsocketBinding` that also sends instance members.

    ``send_members`` names attributes, properties or methods (called with no
    arguments) of the instance, or dotted paths through them
    (``"author.get_full_name"``, sent as ``author__get_full_name``). Their
    values go into ``data`` beside the fields, JSON-encoded with ``encoder``.
    """

    model = None
    send_members: list[str] = []
    encoder = DjangoJSONEncoder()

    def serialize_data(self, instance: Model) -> dict:
        """The fields, plus each of ``send_members``."""
        data = super().serialize_data(instance)
        members = {}
        for path in self.send_members:
            value: Any = instance
            for name in path.split("."):
                value = getattr(value, name)
            members[path.replace(".", "__")] = value() if callable(value) else value
        data.update(json.loads(self.encoder.encode(members)))
        return data
