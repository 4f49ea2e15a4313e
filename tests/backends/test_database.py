"""The database backend against the conformance suite, on SQLite and on
PostgreSQL, plus what only this backend promises: LISTEN/NOTIFY wake-ups,
cleanup of expired rows, reconnecting, and a migration that matches the
models."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from channels.backends.database import DatabaseChannelBackend
from channels.exceptions import BackendUnavailable, ImproperlyConfiguredBackend

from .child import build_backend_in_child
from .conformance import BackendConformance, OpsConformance

# Spawned children import this module before they configure Django, so it
# imports no models and not conftest (which would configure other settings).

BACKEND = "channels.backends.database.DatabaseChannelBackend"
ROOT = Path(__file__).resolve().parents[2]


def spawn_settings() -> dict:
    """This session's Django settings, for a child process to configure."""
    names = ("INSTALLED_APPS", "DATABASES", "USE_TZ", "SECRET_KEY", "DEFAULT_AUTO_FIELD")
    spawned = {name: getattr(settings, name) for name in names}
    # The very databases of this session (its SQLite file, its schema).
    spawned["DATABASES"] = {alias: dict(db) for alias, db in settings.DATABASES.items()}
    return spawned


def require_postgres() -> None:
    """Skip outside CI when no PostgreSQL is configured; fail loudly in CI."""
    if "postgres" in settings.DATABASES:
        return
    reason = (
        "CHANNELS_TEST_POSTGRES is not set; point it at a server, e.g. "
        "CHANNELS_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test"
    )
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
    pytest.skip(reason)


def count_looks(backend) -> list[float]:
    """Record each time ``backend`` reads its table for a message."""
    looks: list[float] = []
    pop = backend._pop

    def counted(*args, **kwargs):
        looks.append(time.monotonic())
        return pop(*args, **kwargs)

    backend._pop = counted
    return looks


def send_from_another_thread(sender, channel: str, message: dict) -> threading.Thread:
    """Send ``message`` 0.1 s from now on another thread (another connection)."""

    def send_later():
        time.sleep(0.1)
        sender.send(channel, message)
        connections.close_all()

    thread = threading.Thread(target=send_later)
    thread.start()
    return thread


class DatabaseBackendTests(BackendConformance, OpsConformance):
    """The suite plus database-specific tests, for one ``DB_ALIAS``."""

    db_alias = "default"

    @pytest.fixture(autouse=True)
    def _tables(self, request):
        if self.db_alias == "postgres":
            require_postgres()
        request.getfixturevalue("channels_databases")

    def make_backend(self, **options):
        return DatabaseChannelBackend("default", DB_ALIAS=self.db_alias, **options)

    def process_spec(self, **options) -> dict:
        return {
            "settings": spawn_settings(),
            "backend": {"BACKEND": BACKEND, "DB_ALIAS": self.db_alias, **options},
        }

    def count_rows(self, model_name: str) -> int:
        from django.apps import apps

        return apps.get_model("channels", model_name).objects.using(self.db_alias).count()

    # --- database-specific ------------------------------------------------

    def test_blocked_receiver_in_another_process_wakes(self, backend):
        """A receiver blocked in another process gets a message sent later.

        Only delivery is asserted; the latency is measured in
        bench/database_idle.py."""
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        proc = context.Process(
            target=receive_one, args=(self.process_spec(), "conf.wake", 30.0, out)
        )
        proc.start()
        try:
            assert out.get(timeout=60) == "ready"
            time.sleep(0.5)  # let it block in receive
            backend.send("conf.wake", {"n": 42, "sent": time.time()})
            channel, message = out.get(timeout=60)
            assert channel == "conf.wake"
            assert message["n"] == 42
        finally:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        assert proc.exitcode == 0

    def test_expired_rows_are_cleaned_up(self, backend):
        # (self.other() flushes the store: make both before sending.)
        short = self.other(EXPIRY=0.2, GROUP_EXPIRY=0.2)
        keep = self.other()
        for n in range(5):
            short.send("conf.clean", {"n": n})
        short.group_add("conf-clean", "conf.clean")
        keep.send("conf.keep", {"n": 0})
        keep.group_add("conf-keep", "conf.keep")
        assert self.count_rows("QueuedMessage") == 6
        time.sleep(0.4)
        # Sweeps are rate-limited per process: wind the clock of the last one
        # back instead of waiting CLEANUP_INTERVAL, then let a send run it.
        short._signal.last_cleanup = 0.0
        keep.send("conf.keep", {"n": 1})
        assert self.count_rows("QueuedMessage") == 2  # the two on conf.keep
        assert keep.group_channels("conf-keep") == ["conf.keep"]
        assert self.count_rows("GroupMembership") == 1
        assert keep.receive_many(["conf.keep"])[1] == {"n": 0}

    def test_cleanup_is_rate_limited(self, backend):
        short = self.other(EXPIRY=0.1)
        short._signal.last_cleanup = time.time()
        short.send("conf.rate", {"n": 1})
        time.sleep(0.2)
        short.send("conf.rate2", {"n": 1})
        # Expired but not yet swept: the sweep waits for CLEANUP_INTERVAL.
        assert self.count_rows("QueuedMessage") == 2
        assert short.cleanup() == 1
        assert self.count_rows("QueuedMessage") == 1

    def test_receive_by_full_process_local_name(self, backend):
        first, second = backend.new_channel("conf.full!"), backend.new_channel("conf.full!")
        backend.send(first, {"n": 1})
        backend.send(second, {"n": 2})
        assert backend.receive_many([second]) == (second, {"n": 2})
        assert backend.receive_many([second]) == (None, None)
        assert backend.receive_many(["conf.full!"]) == (first, {"n": 1})

    def test_survives_a_dropped_connection(self, backend):
        backend.send("conf.drop", {"n": 1})
        break_connection(connections[self.db_alias])
        assert backend.receive_many(["conf.drop"]) == ("conf.drop", {"n": 1})
        break_connection(connections[self.db_alias])
        backend.send("conf.drop", {"n": 2})
        assert backend.receive_many(["conf.drop"]) == ("conf.drop", {"n": 2})

    def test_unreachable_database_is_backend_unavailable(self, backend):
        connection = connections[self.db_alias]
        connection.close()
        saved = dict(connection.settings_dict)
        if connection.vendor == "postgresql":
            connection.settings_dict["PORT"] = "1"  # nothing listens there
        else:
            connection.settings_dict["NAME"] = "/nonexistent-dir/channels.sqlite3"
        try:
            with pytest.raises(BackendUnavailable, match="unavailable"):
                backend.send("conf.down", {"n": 1})
            with pytest.raises(BackendUnavailable, match="unavailable"):
                backend.receive_many(["conf.down"])
        finally:
            connection.close()
            connection.settings_dict.update(saved)
        backend.send("conf.down", {"n": 2})
        assert backend.receive_many(["conf.down"]) == ("conf.down", {"n": 2})

    def test_missing_tables_are_a_clear_error(self, backend):
        unmigrated = self.make_backend()
        unmigrated._messages = "channels_no_such_table"
        with pytest.raises(BackendUnavailable, match="migrate channels"):
            unmigrated.receive_many(["conf.x"])

    def test_flush_only_touches_this_database(self, backend):
        backend.send("conf.flush.db", {"n": 1})
        backend.group_add("conf-flush-db", "conf.flush.db")
        backend.flush()
        assert self.count_rows("QueuedMessage") == 0
        assert self.count_rows("GroupMembership") == 0

    def test_close_then_use_again(self, backend):
        assert backend.receive_many(["conf.again"], block=True, timeout=0.1) == (None, None)
        backend.close()
        backend.send("conf.again", {"n": 1})
        assert backend.receive_many(["conf.again"], block=True, timeout=5) == (
            "conf.again",
            {"n": 1},
        )


def receive_one(spec: dict, channel: str, timeout: float, out) -> None:
    """Child process: block on ``channel`` once, report what came."""
    backend = build_backend_in_child(spec)
    backend.receive_many([channel], block=False)  # connect before "ready"
    out.put("ready")
    out.put(backend.receive_many([channel], block=True, timeout=timeout))
    backend.close()


def break_connection(connection) -> None:
    """Make this thread's connection fail on next use, as a server restart
    or an idle timeout would."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        # Kill our server process from a second connection, like a restart,
        # and wait until it is gone (PostgreSQL 14+), as after a restart.
        pid = connection.connection.info.backend_pid
        killer = connections.create_connection("postgres")
        try:
            with killer.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        finally:
            killer.close()
    else:
        connection.connection.close()  # sqlite3: "Cannot operate on a closed database"


class TestDatabaseBackendSQLite(DatabaseBackendTests):
    db_alias = "default"

    def test_connections_use_wal_without_a_flush_per_commit(self, backend):
        backend.send("conf.wal", {"n": 1})
        with connections[self.db_alias].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
        # A connection made later (a new thread's) gets the same settings.
        seen = []

        def look():
            with connections[self.db_alias].cursor() as cursor:
                cursor.execute("PRAGMA synchronous")
                seen.append(cursor.fetchone()[0])
            connections[self.db_alias].close()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        assert seen == [1]
        assert backend.receive_many(["conf.wal"])[1] == {"n": 1}

    def test_blocked_receiver_looks_only_after_a_commit(self, backend):
        # Polls read PRAGMA data_version; the table is read again only once
        # another connection has committed.
        looks = count_looks(backend)
        assert backend.receive_many(["conf.poll"], block=True, timeout=0.3) == (None, None)
        assert len(looks) == 1
        # A send on another connection (another thread's) wakes it.
        sender = send_from_another_thread(self.other(), "conf.poll", {"n": 1})
        assert backend.receive_many(["conf.poll"], block=True, timeout=5)[1] == {"n": 1}
        sender.join()


class TestDatabaseBackendPostgres(DatabaseBackendTests):
    db_alias = "postgres"

    def test_message_table_is_unlogged_and_sends_are_one_statement(self, backend):
        with connections[self.db_alias].cursor() as cursor:
            cursor.execute(
                "SELECT relpersistence FROM pg_class WHERE oid = 'channels_message'::regclass"
            )
            assert cursor.fetchone()[0] == "u"
            # Groups and heartbeats stay logged: a crash keeps them.
            cursor.execute(
                "SELECT relpersistence FROM pg_class WHERE oid = 'channels_group'::regclass"
            )
            assert cursor.fetchone()[0] == "p"
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        backend._signal.last_cleanup = time.time()  # no sweep of expired rows now
        with connections[self.db_alias].execute_wrapper(count):
            backend.send("conf.one", {"n": 1})
        assert len(statements) == 1 and "channels_send" in statements[0]
        assert backend.receive_many(["conf.one"])[1] == {"n": 1}

    def test_a_workers_turn_and_a_batch_of_sends_are_one_statement_each(self, backend):
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        backend.send("conf.turn.next", {"n": 0})
        backend._signal.last_cleanup = time.time()  # no sweep of expired rows now
        with connections[self.db_alias].execute_wrapper(count):
            turn = backend.send_and_receive(
                [("conf.turn.a", {"n": 1}), ("conf.turn.b", {"n": 2})], ["conf.turn.next"]
            )
            assert (turn.sent, turn.error, turn.message) == (2, None, {"n": 0})
            assert backend.send_many([("conf.turn.a", {"n": 3}), ("conf.turn.b", {"n": 4})]) == [
                None,
                None,
            ]
        assert len(statements) == 2
        assert "channels_send_pop" in statements[0] and "channels_send_many" in statements[1]
        assert [backend.receive_many(["conf.turn.a"])[1]["n"] for _ in range(2)] == [1, 3]
        assert [backend.receive_many(["conf.turn.b"])[1]["n"] for _ in range(2)] == [2, 4]

    def test_blocking_inbox_receive_waits_without_looking_again(self, backend):
        # A look found the inbox empty and no NOTIFY for it came since: the
        # next blocking receive goes straight to LISTEN, and still wakes.
        reply = backend.new_channel("conf.quiet!")
        inbox = reply.split("!")[0] + "!"
        assert backend.receive_many([inbox], block=True, timeout=0.2) == (None, None)
        looks = count_looks(backend)
        assert backend.receive_many([inbox], block=True, timeout=0.2) == (None, None)
        assert looks == []
        sender = send_from_another_thread(self.other(), reply, {"n": 1})
        assert backend.receive_many([inbox], block=True, timeout=5) == (reply, {"n": 1})
        sender.join()
        # A message sent by this very process is found too.
        backend.send(reply, {"n": 2})
        assert backend.receive_many([inbox], block=True, timeout=5) == (reply, {"n": 2})

    def test_a_turn_that_finds_nothing_spares_the_next_receive_a_look(self, backend):
        channels = ["conf.idle.a", "conf.idle.b"]
        assert backend.receive_many(channels, block=True, timeout=0.1) == (None, None)
        turn = backend.send_and_receive([("conf.idle.out", {"n": 1})], channels)
        assert (turn.sent, turn.channel) == (1, None)
        looks = count_looks(backend)
        sender = send_from_another_thread(self.other(), "conf.idle.b", {"n": 2})
        assert backend.receive_many(channels, block=True, timeout=5) == ("conf.idle.b", {"n": 2})
        sender.join()
        assert len(looks) == 1  # once the NOTIFY came, not before

    def test_batches_locking_channels_in_opposite_orders_do_not_deadlock(self, backend):
        # Two senders, each sending to both channels in its own order, at the
        # same time: the send function locks channels in one order for all.
        senders = [self.other(CAPACITY=1000) for _ in range(2)]
        failures = []

        def send(sender, channels):
            try:
                for n in range(40):
                    results = sender.send_many([(c, {"n": n}) for c in channels])
                    failures.extend(r for r in results if r is not None)
            except Exception as exc:
                failures.append(exc)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=send, args=(senders[0], ["conf.lock.a", "conf.lock.b"])),
            threading.Thread(target=send, args=(senders[1], ["conf.lock.b", "conf.lock.a"])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        for channel in ("conf.lock.a", "conf.lock.b"):
            count = 0
            while backend.receive_many([channel])[0] is not None:
                count += 1
            assert count == 80

    def test_group_writes_inside_a_callers_transaction_keep_its_durability(self, backend):
        from django.db import transaction

        with transaction.atomic(using=self.db_alias):
            backend.group_add("conf-durable", "conf.durable")
            with connections[self.db_alias].cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"
        # Outside one, the backend's own transaction commits without a flush
        # and leaves the connection's setting as it was.
        backend.group_add("conf-durable", "conf.other")
        with connections[self.db_alias].cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
        assert sorted(backend.group_channels("conf-durable")) == ["conf.durable", "conf.other"]

    def test_listen_connection_is_separate_and_released(self, backend):
        assert backend.receive_many(["conf.listen"], block=True, timeout=0.1) == (None, None)
        listener = backend._listener.connection
        assert listener is not None and not listener.closed
        assert listener.info.backend_pid != connections["postgres"].connection.info.backend_pid
        backend.close()
        assert listener.closed and backend._listener.connection is None

    def test_notify_for_other_inboxes_does_not_deliver(self, backend):
        other = self.other()
        got = []

        def receive():
            got.append(backend.receive_many(["conf.mine"], block=True, timeout=1.5))

        thread = threading.Thread(target=receive)
        thread.start()
        time.sleep(0.3)
        other.send("conf.theirs", {"n": 1})
        thread.join()
        assert got == [(None, None)]
        assert other.receive_many(["conf.theirs"]) == ("conf.theirs", {"n": 1})

    def test_threads_share_one_listen_connection(self, backend):
        """Several threads blocked on one backend object, each on its own
        channel: every one wakes for its message."""
        sender = self.other()
        names = [f"conf.thread{i}" for i in range(4)]
        got = {}

        def receive(name):
            got[name] = backend.receive_many([name], block=True, timeout=20)
            connections.close_all()

        threads = [threading.Thread(target=receive, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        for name in reversed(names):
            sender.send(name, {"to": name})
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        assert got == {name: (name, {"to": name}) for name in names}

    def test_lost_listen_connection_is_replaced(self, backend):
        assert backend.receive_many(["conf.relisten"], block=True, timeout=0.1) == (None, None)
        old = backend._listener.connection
        killer = connections.create_connection("postgres")
        try:
            with killer.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [old.info.backend_pid])
        finally:
            killer.close()
        sender = self.other()
        timer = threading.Timer(0.5, sender.send, args=("conf.relisten", {"n": 1}))
        timer.start()
        try:
            got = backend.receive_many(["conf.relisten"], block=True, timeout=20)
        finally:
            timer.join()
        assert got == ("conf.relisten", {"n": 1})
        assert backend._listener.connection is not None and backend._listener.connection is not old

    def test_concurrent_senders_never_overshoot_capacity(self, backend):
        # One backend object per thread, made up front (self.other() flushes).
        senders = [self.other(CAPACITY=5) for _ in range(6)]
        results = []
        lock = threading.Lock()

        def send(sender):
            for _ in range(5):
                try:
                    sender.send("conf.overshoot", {"n": 1})
                    outcome = "sent"
                except Exception as exc:  # ChannelFull expected
                    outcome = type(exc).__name__
                with lock:
                    results.append(outcome)
            connections.close_all()

        threads = [threading.Thread(target=send, args=(sender,)) for sender in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count("sent") == 5
        assert set(results) == {"sent", "ChannelFull"}
        count = 0
        while senders[0].receive_many(["conf.overshoot"])[0] is not None:
            count += 1
        assert count == 5


# --- configuration and the migration -------------------------------------


def test_unknown_db_alias_is_a_configuration_error():
    with pytest.raises(ImproperlyConfiguredBackend, match="DB_ALIAS 'nope'"):
        DatabaseChannelBackend("default", DB_ALIAS="nope")


def test_unknown_option_is_refused():
    with pytest.raises(ImproperlyConfiguredBackend, match="DB_ALIAS"):
        DatabaseChannelBackend("default", HOSTS=["redis://x"])


def test_migration_applies_and_matches_the_models(tmp_path):
    """On a fresh database: migrate forward, back to zero and forward again,
    and makemigrations finds nothing the migration lacks."""
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        settings.configure(
            INSTALLED_APPS=["channels"],
            DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3",
                                    "NAME": {str(tmp_path / "fresh.sqlite3")!r}}}}},
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        )
        django.setup()
        call_command("migrate", "channels", verbosity=0)
        tables = set(connection.introspection.table_names())
        assert {{"channels_message", "channels_group"}} <= tables, tables
        call_command("migrate", "channels", "zero", verbosity=0)
        assert "channels_message" not in connection.introspection.table_names()
        call_command("migrate", "channels", verbosity=0)
        call_command("makemigrations", "channels", "--check", "--dry-run", verbosity=1)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("ok")


def test_migration_is_applied_to_the_test_databases(channels_databases):
    from django.db.migrations.recorder import MigrationRecorder

    for alias in channels_databases:
        applied = MigrationRecorder(connections[alias]).applied_migrations()
        assert ("channels", "0001_initial") in applied
