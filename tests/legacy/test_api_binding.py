"""Data binding (``channels.binding``) as the Channels 1.x docs show it.

In process: the docs' ``IntegerValueBinding`` and ``Demultiplexer`` driven
with ``HttpClient``, ``join_group`` and ``apply_routes`` (docs: Testing,
"Test Data binding with HttpClient"). End to end: the same project under
``runwsserver`` + ``runworker`` on the database and Redis backends, real
WebSocket clients creating, updating and deleting values, and changes made
through the ORM in another process pushed to them.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_save
from django.test import override_settings

from channels.binding import CREATE, DELETE, UPDATE, Binding
from channels.binding.base import BindingMetaclass
from channels.binding.websockets import WebsocketBinding
from channels.signals import consumer_finished
from channels.test import ChannelTestCase, HttpClient, apply_routes

from .conftest import BINDING_APPS
from .harness import LegacyProject

# The models module of an app this suite does not install: import it with
# the app installed (its binding registers as it is defined).
with override_settings(INSTALLED_APPS=BINDING_APPS):
    from .databinding.bindings import NameOnlyBinding, ParityBinding, ParityDemultiplexer
    from .databinding.consumers import Demultiplexer
    from .databinding.values.models import IntegerValue, IntegerValueBinding

SETTINGS = {
    "INSTALLED_APPS": BINDING_APPS,
    # A 1.x project's setting, unchanged.
    "CHANNEL_LAYERS": {
        "default": {
            "BACKEND": "asgiref.inmemory.ChannelLayer",
            "ROUTING": "tests.legacy.databinding.routing.channel_routing",
        },
    },
    "SESSION_ENGINE": "django.contrib.sessions.backends.db",
}


def frame(action, value, model="values.integervalue", stream="intval", data=None):
    """The text frame 1.x sends for ``action`` on ``value``, byte for byte."""
    payload = {
        "action": action,
        "pk": value.pk,
        "data": data if data is not None else {"name": value.name, "value": value.value},
        "model": model,
    }
    return json.dumps({"stream": stream, "payload": payload})


@override_settings(**SETTINGS)
class OutboundTests(ChannelTestCase):
    def test_outbound_create(self):
        # As the 1.x testing docs write it.
        client = HttpClient()
        client.join_group("intval-updates")

        value = IntegerValue.objects.create(name="fifty", value=50)
        consumer_finished.send(sender=None)

        received = client.receive()
        self.assertIsNotNone(received)
        self.assertEqual(received["payload"]["action"], "create")
        self.assertEqual(received["payload"]["model"], "values.integervalue")
        self.assertEqual(received["payload"]["pk"], value.pk)
        self.assertEqual(received["payload"]["data"]["name"], "fifty")
        self.assertEqual(received["payload"]["data"]["value"], 50)
        self.assertIsNone(client.receive())

    def test_the_frames_are_exactly_the_1x_format(self):
        client = HttpClient()
        client.join_group("intval-updates")
        value = IntegerValue.objects.create(name="one", value=1)
        self.assertEqual(client.receive(json=False), frame(CREATE, value))
        value.value = 2
        value.save()
        self.assertEqual(client.receive(json=False), frame(UPDATE, value))
        pk = value.pk
        value.delete()
        value.pk = pk
        self.assertEqual(client.receive(json=False), frame(DELETE, value))
        self.assertIsNone(client.receive())

    def test_moving_between_groups_is_a_delete_for_one_and_a_create_for_the_other(self):
        even, odd = HttpClient(), HttpClient()
        even.join_group("parity-0")
        odd.join_group("parity-1")
        value = IntegerValue.objects.create(name="n", value=1)
        self.assertEqual(odd.receive()["payload"]["action"], "create")
        self.assertIsNone(even.receive())

        value.value = 3
        value.save()
        self.assertEqual(odd.receive()["payload"]["action"], "update")
        self.assertIsNone(even.receive())

        value.value = 4
        value.save()
        gone, came = odd.receive(), even.receive()
        self.assertEqual((gone["stream"], gone["payload"]["action"]), ("parity", "delete"))
        self.assertEqual(
            (came["payload"]["action"], came["payload"]["data"]["value"]), ("create", 4)
        )
        # fields = ["__all__"]: every field.
        self.assertEqual(came["payload"]["data"], {"name": "n", "value": 4})

    def test_exclude_send_members_and_old_style_group_names(self):
        client = HttpClient()
        client.join_group("names")
        value = IntegerValue.objects.create(name="abc", value=7)
        payload = client.receive()["payload"]
        self.assertEqual(payload["data"], {"name": "abc", "name__upper": "ABC", "pk": value.pk})
        self.assertEqual(payload["action"], "create")

    def test_queryset_update_sends_nothing_as_documented(self):
        client = HttpClient()
        client.join_group("intval-updates")
        IntegerValue.objects.create(name="q", value=1)
        client.receive()
        IntegerValue.objects.filter(name="q").update(value=9)
        self.assertIsNone(client.receive())


@override_settings(**SETTINGS)
class InboundTests(ChannelTestCase):
    def connect(self, path="/binding/"):
        client = HttpClient()
        client.send_and_consume("websocket.connect", path=path)
        return client

    def send_payload(self, client, payload, stream="intval", path="/binding/"):
        """One frame on a binding's stream, run through its consumer."""
        client.send_and_consume(
            "websocket.receive", path=path, text={"stream": stream, "payload": payload}
        )

    def test_inbound_create(self):
        # The 1.x testing docs' test, with the 1.1 demultiplexer (no binding channel).
        self.assertEqual(IntegerValue.objects.all().count(), 0)
        with apply_routes([Demultiplexer.as_route(path="/")]):
            client = HttpClient()
            client.send_and_consume("websocket.connect", path="/")
            client.send_and_consume(
                "websocket.receive",
                path="/",
                text={
                    "stream": "intval",
                    "payload": {"action": CREATE, "data": {"name": "one", "value": 1}},
                },
            )
        self.assertEqual(IntegerValue.objects.all().count(), 1)
        value = IntegerValue.objects.all().first()
        self.assertEqual(value.name, "one")
        self.assertEqual(value.value, 1)
        # The connection is in the binding's group: it hears of its own change.
        self.assertEqual(client.receive(json=False), frame(CREATE, value))

    def test_inbound_update_and_delete_through_the_project_routing(self):
        value = IntegerValue.objects.create(name="two", value=2)
        client = self.connect()
        self.send_payload(client, {"action": "update", "pk": value.pk, "data": {"value": 20}})
        value.refresh_from_db()
        self.assertEqual((value.name, value.value), ("two", 20))
        self.assertEqual(client.receive(json=False), frame(UPDATE, value))

        self.send_payload(client, {"action": "delete", "pk": value.pk})
        self.assertFalse(IntegerValue.objects.filter(pk=value.pk).exists())
        self.assertEqual(client.receive()["payload"]["action"], "delete")

    def test_fields_outside_the_binding_and_the_primary_key_are_not_written(self):
        value = IntegerValue.objects.create(name="keep", value=1)
        other = IntegerValue.objects.create(name="other", value=5)
        client = self.connect()
        self.send_payload(
            client, {"action": "update", "pk": value.pk, "data": {"id": other.pk, "value": 2}}
        )
        self.assertEqual(IntegerValue.objects.get(pk=value.pk).value, 2)
        self.assertEqual(IntegerValue.objects.get(pk=other.pk).value, 5)
        self.assertEqual(IntegerValue.objects.count(), 2)

    def test_has_permission_false_changes_nothing(self):
        value = IntegerValue.objects.create(name="guarded", value=1)
        with apply_routes([ParityDemultiplexer.as_route(path="/")]):
            client = self.connect(path="/")
            for payload in (
                {"action": "create", "data": {"name": "sneaky", "value": 3}},
                {"action": "update", "pk": value.pk, "data": {"value": 99}},
                {"action": "delete", "pk": value.pk},
            ):
                self.send_payload(client, payload, stream="parity", path="/")
        self.assertEqual(list(IntegerValue.objects.values_list("name", "value")), [("guarded", 1)])

    def test_bad_payloads_are_clear_errors(self):
        client = self.connect()
        for payload, error in (
            ({"data": {"name": "x"}}, "needs an 'action'"),
            ({"action": "explode"}, "bad binding action 'explode'"),
            ({"action": "create", "data": ["x"]}, "must be a JSON object"),
        ):
            with self.assertRaisesMessage(ValueError, error):
                self.send_payload(client, payload)
        self.assertEqual(IntegerValue.objects.count(), 0)

    def test_the_binding_consumer_ignores_connect_and_disconnect(self):
        client = self.connect()
        client.send_and_consume("websocket.disconnect", {"code": 1000}, path="/binding/")
        self.assertEqual(IntegerValue.objects.count(), 0)


class RegistrationTests(ChannelTestCase):
    def test_bindings_are_registered_at_start_up_and_when_defined_later(self):
        self.assertTrue(BindingMetaclass.register_immediately)
        self.assertIn(IntegerValueBinding, BindingMetaclass.binding_classes)
        receivers = post_save._live_receivers(IntegerValue)
        receivers = receivers[0] if isinstance(receivers, tuple) else receivers
        bound = {getattr(r, "__self__", None) for r in receivers}
        self.assertTrue({IntegerValueBinding, ParityBinding, NameOnlyBinding} <= bound)

    def test_a_binding_without_fields_is_refused_when_defined(self):
        with self.assertRaisesMessage(ImproperlyConfigured, "must set fields"):

            class NoFields(WebsocketBinding):
                model = IntegerValue
                stream = "nofields"

        self.assertNotIn("NoFields", [c.__name__ for c in BindingMetaclass.binding_classes])

    def test_a_binding_that_sets_model_none_is_abstract(self):
        class Abstract(Binding):
            model = None

        self.assertEqual(Abstract.get_registered_models(), [])

    def test_constants(self):
        self.assertEqual((CREATE, UPDATE, DELETE), ("create", "update", "delete"))


# --- end to end -------------------------------------------------------------


def receive_payload(socket, project) -> dict:
    try:
        message = json.loads(socket.recv(timeout=30))
    except TimeoutError:
        raise AssertionError(f"no binding frame in 30 s\n{project.logs()}") from None
    assert message["stream"] == "intval" and set(message) == {"stream", "payload"}, message
    return message["payload"]


@pytest.fixture(params=["database", "redis"])
def project(request, tmp_path):
    running = LegacyProject(tmp_path, request.param)
    yield running
    running.stop()


def test_create_update_delete_both_ways_through_real_processes(project):
    with project.socket() as alice, project.socket() as bob:
        # Inbound from a client; outbound to both sockets in the group.
        alice.send(
            json.dumps(
                {
                    "stream": "intval",
                    "payload": {"action": "create", "data": {"name": "one", "value": 1}},
                }
            )
        )
        created = receive_payload(alice, project)
        assert receive_payload(bob, project) == created
        [(pk, name, value)] = project.rows()
        assert created == {
            "action": "create",
            "pk": pk,
            "data": {"name": "one", "value": 1},
            "model": "values.integervalue",
        }

        bob.send(
            json.dumps(
                {
                    "stream": "intval",
                    "payload": {"action": "update", "pk": pk, "data": {"value": 2}},
                }
            )
        )
        assert receive_payload(alice, project)["data"] == {"name": "one", "value": 2}
        assert receive_payload(bob, project)["action"] == "update"
        assert project.rows() == [(pk, "one", 2)]

        # Changes made through the ORM elsewhere reach the clients.
        project.orm(
            f"v = IntegerValue.objects.get(pk={pk}); v.value = 3; v.save()\n"
            "IntegerValue.objects.create(name='two', value=22)"
        )
        for socket in (alice, bob):
            update, create = receive_payload(socket, project), receive_payload(socket, project)
            assert (update["action"], update["pk"], update["data"]["value"]) == ("update", pk, 3)
            assert (create["action"], create["data"]) == ("create", {"name": "two", "value": 22})

        alice.send(json.dumps({"stream": "intval", "payload": {"action": "delete", "pk": pk}}))
        for socket in (alice, bob):
            deleted = receive_payload(socket, project)
            assert (deleted["action"], deleted["pk"]) == ("delete", pk)
        assert [row[1] for row in project.rows()] == ["two"]

        project.orm("IntegerValue.objects.get(name='two').delete()")
        assert receive_payload(bob, project)["action"] == "delete"
        assert project.rows() == []
