"""``Binding``: two-way data binding between a Django model and groups (Channels 1.x).

*Outbound*: every save or delete of the model, made through the ORM, is
sent to groups. ``group_names(instance)`` says which groups see an instance;
comparing the groups before and after a change tells each group what the
change looks like *to it*: a group that starts seeing the instance gets a
``create``, one that keeps seeing it an ``update``, one that stops seeing it
a ``delete`` (sent in that order: delete, update, create).

*Inbound*: :meth:`Binding.consumer` takes a message asking to create, update
or delete an instance, asks :meth:`Binding.has_permission`, and does it.

A subclass must set ``model``, ``stream`` and ``fields`` (or ``exclude``) and
implement ``group_names`` and ``has_permission``; the protocol part
(``encode``, ``serialize``, ``deserialize``, ``create``, ``update``) comes from
:class:`~channels.binding.websockets.WebsocketBinding` or your own subclass.

Every subclass is recorded when it is defined; ``ChannelsConfig.ready()``
connects the ones defined by then to their model's signals
(:meth:`BindingMetaclass.register_all`), and any defined later are connected
at once.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from ..channel import Group
from ..sessions import channel_session

logger = logging.getLogger("channels.binding")

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
#: The actions a client may ask for, in the order changes are sent out.
ACTIONS = (DELETE, UPDATE, CREATE)

#: Attribute of a model instance holding the groups that saw it before a change.
_GROUPS_BEFORE = "_binding_group_names"


class BindingMetaclass(type):
    """Records every binding class, so start-up can connect them all."""

    #: Every class made with this metaclass except the root ``Binding``.
    binding_classes: list[type] = []
    #: Set by :meth:`register_all`: classes defined afterwards register at once.
    register_immediately = False

    def __new__(mcs, name: str, bases: tuple, body: dict) -> type:
        cls = super().__new__(mcs, name, bases, body)
        if any(isinstance(base, BindingMetaclass) for base in bases):
            if mcs.register_immediately:
                cls.register()  # a misconfigured class raises here, and is not kept
            mcs.binding_classes.append(cls)
        return cls

    @classmethod
    def register_all(mcs) -> None:
        """Connect every binding class defined so far (and any defined later)."""
        for binding_class in mcs.binding_classes:
            binding_class.register()
        mcs.register_immediately = True


class Binding(metaclass=BindingMetaclass):
    """Two-way binding of one model to groups and to inbound messages.

    Class attributes:

    ``model``
        the model class, or ``"app_label.ModelName"``. A subclass that sets
        ``model = None`` itself is abstract (not connected).
    ``stream``
        the stream name clients see (with WebSocket multiplexing).
    ``fields`` / ``exclude``
        the fields sent out and accepted in: a list of names, or
        ``["__all__"]`` (``"__all__"`` works too); or ``exclude``, the names
        to leave out. One of them is required.
    ``groups``
        a fixed list of groups, used when ``group_names`` is not overridden.
    ``channel_session_user`` (True) / ``channel_session``
        the session decorator inbound messages run under, giving
        ``message.user`` (for ``has_permission``) from the channel session.
    """

    model: type[Model] | str | None = None
    stream: str | None = None
    fields: list[str] | str | None = None
    exclude: list[str] | None = None
    groups: list[str] = []
    channel_session_user = True
    channel_session = False
    #: While an outbound change is sent: the keyword arguments of the model
    #: signal behind it (``created``, ``update_fields``, ``raw``, ``using``...).
    signal_kwargs: dict[str, Any] | None = None

    # --- start-up ------------------------------------------------------------

    @classmethod
    def register(cls) -> None:
        """Connect this binding to its model's save and delete signals."""
        for model in cls.get_registered_models():
            uid = f"channels.binding:{cls.__module__}.{cls.__qualname__}"
            pre_save.connect(cls.pre_save_receiver, model, weak=False, dispatch_uid=uid)
            post_save.connect(cls.post_save_receiver, model, weak=False, dispatch_uid=uid)
            pre_delete.connect(cls.pre_delete_receiver, model, weak=False, dispatch_uid=uid)
            post_delete.connect(cls.post_delete_receiver, model, weak=False, dispatch_uid=uid)

    @classmethod
    def get_registered_models(cls) -> list[type[Model]]:
        """``[model]`` (resolving a ``"app.Model"`` string), or ``[]`` if abstract."""
        if cls.model is None:
            if "model" in cls.__dict__:
                return []
            raise ImproperlyConfigured(f"binding {cls.__qualname__} must set model")
        if cls.fields is None and cls.exclude is None:
            raise ImproperlyConfigured(
                f"binding {cls.__qualname__} must set fields (a list, or ['__all__']) or exclude"
            )
        if isinstance(cls.model, str):
            cls.model = apps.get_model(cls.model)
        cls.model_label = cls.model._meta.label_lower
        return [cls.model]

    # --- outbound ------------------------------------------------------------

    @classmethod
    def pre_save_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """Remember which groups saw the instance before this save."""
        cls.pre_change_receiver(instance, CREATE if instance._state.adding else UPDATE)

    @classmethod
    def post_save_receiver(cls, instance: Model, created: bool, **kwargs: Any) -> None:
        """Tell the groups about the save."""
        cls.post_change_receiver(instance, CREATE if created else UPDATE, **kwargs)

    @classmethod
    def pre_delete_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """Remember which groups see the instance about to be deleted."""
        cls.pre_change_receiver(instance, DELETE)

    @classmethod
    def post_delete_receiver(cls, instance: Model, **kwargs: Any) -> None:
        """Tell the groups that saw it about the delete."""
        cls.post_change_receiver(instance, DELETE, **kwargs)

    @classmethod
    def pre_change_receiver(cls, instance: Model, action: str) -> None:
        """Record the groups that see the instance as it is stored now."""
        if action == CREATE:
            before: set[str] = set()
        elif action == DELETE:
            before = cls.group_names_of(instance, action)
        else:
            # The instance in hand already holds the new values: ask about
            # the stored row, so a change that moves the instance between
            # groups reads as a delete for the old ones and a create for the
            # new (what 1.x's docs describe).
            stored = (
                type(instance)
                ._base_manager.using(instance._state.db)
                .filter(pk=instance.pk)
                .first()
            )
            before = cls.group_names_of(stored, action) if stored is not None else set()
        if not hasattr(instance, _GROUPS_BEFORE):
            setattr(instance, _GROUPS_BEFORE, {})
        getattr(instance, _GROUPS_BEFORE)[cls] = before

    @classmethod
    def post_change_receiver(cls, instance: Model, action: str, **kwargs: Any) -> None:
        """Send each group the change as it sees it (``kwargs``: the model signal's)."""
        before = getattr(instance, _GROUPS_BEFORE, {}).pop(cls, set())
        after = set() if action == DELETE else cls.group_names_of(instance, action)
        self = cls()
        self.instance = instance
        self.send_messages(instance, before - after, DELETE, **kwargs)
        self.send_messages(instance, before & after, UPDATE, **kwargs)
        self.send_messages(instance, after - before, CREATE, **kwargs)

    @classmethod
    def group_names_of(cls, instance: Model, action: str) -> set[str]:
        """``group_names`` of ``instance``, however the subclass declared it.

        1.1 declared ``group_names(cls, instance)``; earlier 1.x code wrote
        ``group_names(self, instance, action)``. Both are called right.
        """
        method = cls().group_names
        takes_action = len(inspect.signature(method).parameters) >= 2
        names = method(instance, action) if takes_action else method(instance)
        return set(names)

    def send_messages(
        self, instance: Model, group_names: set[str], action: str, **kwargs: Any
    ) -> None:
        """Serialize the instance once and send it to each group.

        ``kwargs`` are the model signal's (``created``, ``update_fields``,
        ``raw``, ``using``...), kept in :attr:`signal_kwargs` for
        :meth:`serialize` to read, as in Channels 1.x.
        """
        if not group_names:
            return
        self.signal_kwargs = kwargs
        payload = self.serialize(instance, action)
        if payload == {}:
            return
        if self.stream is None:
            raise ImproperlyConfigured(f"binding {type(self).__qualname__} must set stream")
        message = self.encode(self.stream, payload)
        for name in sorted(group_names):
            Group(name).send(message)

    @classmethod
    def group_names(cls, instance: Model) -> list[str]:
        """The groups that see ``instance`` (override; default: ``groups``)."""
        if cls.groups:
            return list(cls.groups)
        raise NotImplementedError(f"{cls.__qualname__} must implement group_names(instance)")

    @classmethod
    def encode(cls, stream: str, payload: dict) -> dict:
        """The message that carries ``payload`` on ``stream`` (protocol part)."""
        raise NotImplementedError

    def serialize(self, instance: Model, action: str) -> dict:
        """The payload describing ``action`` on ``instance``; ``{}`` sends nothing."""
        raise NotImplementedError

    # --- inbound -------------------------------------------------------------

    @classmethod
    def consumer(cls, message, **kwargs: Any) -> Any:
        """The consumer of inbound messages (route it, or map a stream to it)."""
        return cls.get_handler()(message, **kwargs)

    @classmethod
    def get_handler(cls):
        """:meth:`trigger_inbound` under the session decorator the class asks for."""
        # Imported here: apps.ready() imports this module, also in projects
        # without django.contrib.auth.
        from ..auth import channel_session_user

        handler = cls.trigger_inbound
        if cls.channel_session_user:
            return channel_session_user(handler)
        if cls.channel_session:
            return channel_session(handler)
        return handler

    @classmethod
    def trigger_inbound(cls, message, **kwargs: Any) -> None:
        """Decode an inbound message and run its action if permitted."""
        from django.contrib.auth.models import AnonymousUser

        self = cls()
        self.message = message
        self.kwargs = kwargs
        self.action, self.pk, self.data = self.deserialize(message)
        self.user = getattr(message, "user", None) or AnonymousUser()
        self.run_action(self.action, self.pk, self.data)

    def deserialize(self, message) -> tuple[str, Any, Any]:
        """``(action, pk, data)`` from a message (protocol part)."""
        raise NotImplementedError

    def has_permission(self, user, action: str, pk: Any) -> bool:
        """Whether ``user`` may do ``action`` to ``pk`` (override; required)."""
        raise NotImplementedError(
            f"{type(self).__qualname__} must implement has_permission(user, action, pk)"
        )

    def run_action(self, action: str, pk: Any, data: Any) -> None:
        """Do ``action`` if :meth:`has_permission` allows it; refusals are dropped."""
        if action not in ACTIONS:
            raise ValueError(f"bad binding action {action!r}: use create, update or delete")
        if not self.has_permission(self.user, action, pk):
            logger.info(
                "%s refused %s of pk %r to %s", type(self).__qualname__, action, pk, self.user
            )
            return
        if action == CREATE:
            self.create(data)
        elif action == UPDATE:
            self.update(pk, data)
        else:
            self.delete(pk)

    def create(self, data: Any) -> None:
        """Make an instance from ``data`` (protocol part)."""
        raise NotImplementedError

    def update(self, pk: Any, data: Any) -> None:
        """Apply ``data`` to the instance ``pk`` (protocol part)."""
        raise NotImplementedError

    def delete(self, pk: Any) -> None:
        """Delete the instance ``pk`` (its delete signals tell the groups)."""
        self.model._default_manager.filter(pk=pk).delete()
