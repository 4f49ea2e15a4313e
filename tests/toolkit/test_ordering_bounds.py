"""enforce_ordering's bounds, in one process (memory backend, db sessions):
how much one connection may hold back, what happens past it, what a held
message costs in the session store, and that the message whose turn it is
gets back on a channel its client keeps full.

The same attack through real ``runwsserver`` and ``runworker`` processes is
in ``test_ordering_flood.py``."""

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from channels.backends.memory import InMemoryChannelBackend
from channels.backends.registry import channel_backends
from channels.exceptions import ChannelFull
from channels.ordering import ORDERING_KEY, OVERFLOW_CLOSE_CODE, max_held
from channels.session_store import channel_key
from channels.test import ChannelTestCase, WSClient
from channels.test.routes import router_for
from channels.workers.dispatch import Dispatcher

from .test_ordering_in_process import replies

PATH = "/ordered/"


def run_waiting(backend, reader=None) -> list:
    """Run every waiting WebSocket message, as workers would, but put the
    probe back unrun: it is the bounded wait's timer, and run in a loop it
    would end the wait for the gaps these tests leave open on purpose.

    Returns the replies ``reader`` (a client) got meanwhile, read as they
    come so its reply channel never fills."""
    got: list = []
    dispatcher = Dispatcher(backend, router_for("default"), manage_connections=False)
    probes = []
    while True:
        name, content = backend.receive_many(["websocket.receive", "websocket.disconnect"])
        if name is None:
            break
        if (content.get(ORDERING_KEY) or {}).get("probe"):
            probes.append((name, content))
            continue
        dispatcher.handle(name, content, raise_exceptions=True)
        if reader is not None:
            got.extend(replies(reader))
    for name, content in probes:
        backend.send(name, content)
    return got


def index_record(client) -> Session | None:
    """The connection's ordering record (next order and the held index)."""
    return Session.objects.filter(session_key=channel_key("ord", client.reply_channel)).first()


def held_record_keys(client, orders) -> list[str]:
    """Keys of the held-message records that exist for ``orders``."""
    keys = [channel_key("orh", f"{client.reply_channel}#{order}") for order in orders]
    return list(Session.objects.filter(session_key__in=keys).values_list("session_key", flat=True))


class OrderingBoundsTests(ChannelTestCase):
    def connect(self):
        client = WSClient()
        client.send_and_consume("websocket.connect", {"order": 0}, path=PATH)
        return client

    def send(self, client, order, text="x"):
        client.send("websocket.receive", {"order": order, "text": text}, path=PATH)

    def test_past_max_held_the_socket_is_closed_and_what_it_held_is_deleted(self):
        client = self.connect()
        cap = max_held()
        # Order 1 never comes: 2 .. cap+1 are held, cap+2 is one too many.
        with self.assertLogs("channels.sessions", "WARNING") as logs:
            for order in range(2, cap + 3):
                self.send(client, order)
                run_waiting(client.backend)
        assert replies(client) == [{"close": OVERFLOW_CLOSE_CODE}]
        assert "CHANNELS_ORDERING_MAX_HELD=100" in "\n".join(logs.output)
        assert held_record_keys(client, range(2, cap + 3)) == []
        assert index_record(client).get_decoded()["state"]["held"] == {}
        # The missing message turning up now, and later ones, run no consumer.
        self.send(client, 1)
        self.send(client, cap + 3)
        run_waiting(client.backend)
        assert replies(client) == []
        # The disconnect still runs, at once; then the record is a tombstone
        # that drops the socket's stragglers and expires by itself.
        client.send_and_consume(
            "websocket.disconnect", {"order": cap + 10, "code": 1013}, path=PATH
        )
        assert self.get_next_message("test.disconnected", require=True)["seen"] == []
        record = index_record(client)
        assert record.get_decoded()["state"]["closed"] is True
        self.send(client, cap + 4)
        run_waiting(client.backend)
        assert replies(client) == []

    def test_one_below_max_held_is_still_served_in_order(self):
        client = self.connect()
        cap = max_held()
        for order in range(2, cap + 2):
            self.send(client, order)
            run_waiting(client.backend)
        assert replies(client) == []
        self.send(client, 1)
        assert run_waiting(client.backend, reader=client) == [str(n) for n in range(1, cap + 2)]

    @override_settings(CHANNELS_ORDERING_MAX_HELD_BYTES=10_000)
    def test_past_max_held_bytes_the_socket_is_closed(self):
        client = self.connect()
        self.send(client, 2, text="a" * 6_000)  # one message is always let in
        self.send(client, 3, text="b" * 3_000)  # 9 KB held
        run_waiting(client.backend)
        assert replies(client) == []
        self.send(client, 4, text="c" * 2_000)  # 11 KB: too much
        with self.assertLogs("channels.sessions", "WARNING"):
            run_waiting(client.backend)
        assert replies(client) == [{"close": OVERFLOW_CLOSE_CODE}]

    @override_settings(CHANNELS_ORDERING_MAX_HELD_BYTES=1_000)
    def test_a_single_message_larger_than_the_byte_bound_is_held(self):
        client = self.connect()
        self.send(client, 2, text="a" * 5_000)
        self.send(client, 1)
        run_waiting(client.backend)
        assert replies(client) == ["1", "2"]

    def test_held_messages_are_records_of_their_own(self):
        # The ordering record is an index: holding the 90th message of 4 KB
        # writes that message and a small index, not everything held so far.
        client = self.connect()
        for order in range(2, 92):
            self.send(client, order, text="z" * 4_000)
            run_waiting(client.backend)
        assert len(held_record_keys(client, range(2, 92))) == 90
        assert len(index_record(client).session_data) < 16_000  # 90 x 4 KB inline was > 480 KB
        self.send(client, 1)
        run_waiting(client.backend)
        assert replies(client) == [str(n) for n in range(1, 92)]
        assert held_record_keys(client, range(2, 92)) == []

    def test_the_next_message_gets_back_on_a_full_channel(self):
        backend = InMemoryChannelBackend("default", CAPACITY=5)
        channel_backends.set("default", backend)
        client = self.connect()
        self.send(client, 2)
        run_waiting(backend)  # order 2 is held (and the probe circulates)
        self.send(client, 1)
        name, content = backend.receive_many(["websocket.receive"])
        if name is not None and (content.get(ORDERING_KEY) or {}).get("probe"):
            backend.send(name, content)
            name, content = backend.receive_many(["websocket.receive"])
        assert content["order"] == 1
        # While order 1 runs, the client fills the channel (as a socket whose
        # frames the interface server sends as fast as workers take them).
        order = 3
        while True:
            try:
                self.send(client, order)
            except ChannelFull:
                break
            order += 1
        dispatcher = Dispatcher(backend, router_for("default"), manage_connections=False)
        dispatcher.handle(name, content, raise_exceptions=True)
        assert replies(client) == ["1"]
        # Order 2 went back past the capacity: the client's own flood cannot
        # keep it out, so the connection goes on.
        assert backend.channel_stats()[0].depth == backend.capacity + 1
        assert run_waiting(backend, reader=client) == [str(n) for n in range(2, order)]

    @override_settings(CHANNELS_ORDERING_MAX_HELD=0)
    def test_bounds_must_be_positive(self):
        client = self.connect()
        self.send(client, 2)
        with pytest.raises(ImproperlyConfigured, match="CHANNELS_ORDERING_MAX_HELD"):
            run_waiting(client.backend)
