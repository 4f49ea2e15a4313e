"""``flush`` deletes one backend's data and nothing else: on Redis, only its
own key families under its PREFIX (keys of other applications, of PREFIXes
that extend ours, of another deployment under a sub-prefix survive); on the
database, only the rows of its own CHANNEL_BACKENDS alias (two aliases
sharing one database, on SQLite and on PostgreSQL); in memory, only its own
object. ``flush_scope`` says exactly that, for ``channels flush``."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap

import pytest

from channels.backends.database import DatabaseChannelBackend
from channels.backends.memory import InMemoryChannelBackend
from channels.backends.redis import RedisChannelBackend

from .redis_servers import own_redis, redis_shards  # noqa: F401 (fixtures)
from .test_database import ROOT, require_postgres


def fill(backend) -> None:
    """One of everything a backend stores: messages on a plain channel and
    on a process inbox, a group membership, a heartbeat."""
    backend.send("flush.plain", {"n": 1})
    backend.send(backend.new_channel("flush.inbox!"), {"n": 2})
    backend.group_add("flush-room", "flush.plain")
    # Heartbeat ids are unique per process (host, pid, random part).
    backend.record_heartbeat({"id": f"worker.host-{backend.alias}.1.abc"}, ttl=60)


def assert_filled(backend) -> None:
    assert backend.receive_many(["flush.plain"]) == ("flush.plain", {"n": 1})
    channel, message = backend.receive_many(["flush.inbox!"])
    assert channel.startswith("flush.inbox!") and message == {"n": 2}
    assert backend.group_channels("flush-room") == ["flush.plain"]
    assert [beat["id"] for beat in backend.heartbeats()] == [f"worker.host-{backend.alias}.1.abc"]


def assert_empty(backend) -> None:
    assert backend.receive_many(["flush.plain", "flush.inbox!"]) == (None, None)
    assert backend.group_channels("flush-room") == []
    assert backend.heartbeats() == []


# --- Redis ---------------------------------------------------------------------


@pytest.mark.redis
def test_redis_flush_deletes_only_its_own_key_families(own_redis):  # noqa: F811
    client = own_redis.client()
    ours = RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX="myapp:")
    # Another deployment under a sub-prefix of ours, with real data.
    staging = RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX="myapp:staging:")
    fill(ours)
    fill(staging)
    client.rpush("myapp:w:" + secrets.token_hex(12), b"1")  # a wake-up key left behind
    foreign = {
        b"myapp_cache:views.decorators.cache.page": b"html",  # another app
        b"myappointments:2024-01-01": b"dentist",  # a prefix that extends ours
        b"myapp:q:session:abc": b"not a channel name",  # in our namespace, not our layout
        b"myapp:x:config": b"not one of our families",
        b"unrelated": b"kept",
    }
    for key, value in foreign.items():
        client.set(key, value)
    staging_keys = set(client.keys("myapp:staging:*"))
    assert len(staging_keys) >= 4  # q, n, g, h
    ours_before = set(client.keys("myapp:[qngwh]:*")) - set(foreign)
    assert {key.split(b":")[1] for key in ours_before} == {b"q", b"n", b"g", b"w", b"h"}

    ours.flush()

    assert set(client.keys("*")) == set(foreign) | staging_keys
    for key, value in foreign.items():
        assert client.get(key) == value
    assert_empty(ours)
    assert_filled(staging)


@pytest.mark.redis
def test_redis_flush_with_a_prefix_without_separator(own_redis):  # noqa: F811
    """PREFIX="myapp": our keys are myappq:..., and nothing of another
    application or deployment that starts with "myapp" goes."""
    client = own_redis.client()
    ours = RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX="myapp")
    # Other deployments whose PREFIX extends ours, with real data: under a
    # sub-prefix, with a family letter next, with a separator next.
    others = [
        RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX=prefix)
        for prefix in ("myapp:staging:", "myappq", "myappq:", "myapp:")
    ]
    for backend in (ours, *others):
        fill(backend)
    client.rpush("myappw:" + secrets.token_hex(12), b"1")  # a wake-up key left behind
    foreign = {
        b"myapp_cache:views.decorators.cache.page": b"html",  # another app
        b"myappointments:2024-01-01": b"dentist",  # a prefix that extends ours
        b"myappq:session:abc": b"not a channel name",
        b"unrelated": b"kept",
    }
    for key, value in foreign.items():
        client.set(key, value)
    ours_before = {k for k in client.keys("myapp[qngwh]:*") if k.count(b":") == 1}
    assert {key[5:6] for key in ours_before} == {b"q", b"n", b"g", b"w", b"h"}
    kept = set(client.keys("*")) - ours_before

    ours.flush()

    assert set(client.keys("*")) == kept
    for key, value in foreign.items():
        assert client.get(key) == value
    assert_empty(ours)
    for backend in others:
        assert_filled(backend)


@pytest.mark.redis
def test_redis_flush_on_every_shard(redis_shards):  # noqa: F811
    prefix = f"flush-{secrets.token_hex(4)}"
    hosts = [server.url for server in redis_shards]
    ours = RedisChannelBackend("default", HOSTS=hosts, PREFIX=prefix)
    neighbour = RedisChannelBackend("default", HOSTS=hosts, PREFIX=prefix + "-neighbour:")
    clients = [server.client() for server in redis_shards]
    try:
        for n in range(30):
            ours.send(f"flush.spread.{n}", {"n": n})
            neighbour.send(f"flush.spread.{n}", {"n": n})
            ours.group_add(f"flush-group-{n}", f"flush.spread.{n}")
        assert all(c.keys(f"{prefix}[qg]:*") for c in clients)  # really spread
        ours.flush()
        assert [c.keys(f"{prefix}[qngwh]:*") for c in clients] == [[], [], []]
        for n in range(30):
            assert neighbour.receive_many([f"flush.spread.{n}"])[1] == {"n": n}
    finally:
        neighbour.flush()


@pytest.mark.redis
def test_redis_flush_scope_names_the_keys(own_redis):  # noqa: F811
    scope = "\n".join(
        RedisChannelBackend("default", HOSTS=[own_redis.url], PREFIX="app").flush_scope()
    )
    assert f"127.0.0.1:{own_redis.port}/0" in scope
    for pattern in ("appq:<channel>", "appn:<inbox>", "appg:<group>", "appw:<token>"):
        assert pattern in scope
    assert "apph:<process>" in scope
    assert "not those of any other PREFIX, even one starting with 'app'" in scope


# --- database ------------------------------------------------------------------


@pytest.fixture(params=["default", "postgres"])
def db_alias(request):
    if request.param == "postgres":
        require_postgres()
    request.getfixturevalue("channels_databases")
    return request.param


def test_database_flush_deletes_only_its_own_aliass_rows(db_alias):
    alpha = DatabaseChannelBackend("alpha", DB_ALIAS=db_alias)
    beta = DatabaseChannelBackend("beta", DB_ALIAS=db_alias)
    try:
        fill(alpha)
        fill(beta)
        # Same names, separate channels: each alias receives only its own.
        alpha.send("flush.shared", {"from": "alpha"})
        beta.send("flush.shared", {"from": "beta"})
        assert alpha.receive_many(["flush.shared"]) == ("flush.shared", {"from": "alpha"})
        assert alpha.receive_many(["flush.shared"]) == (None, None)
        assert [c.name for c in beta.channel_stats()].count("flush.shared") == 1

        alpha.flush()

        assert_empty(alpha)
        assert_filled(beta)
        assert beta.receive_many(["flush.shared"]) == ("flush.shared", {"from": "beta"})
    finally:
        alpha.flush()
        beta.flush()
        alpha.close()
        beta.close()


def test_database_flush_scope_names_the_rows(db_alias):
    scope = "\n".join(DatabaseChannelBackend("alpha", DB_ALIAS=db_alias).flush_scope())
    assert f"from database {db_alias!r}" in scope
    assert "rows of backend 'alpha'" in scope
    for table in ("channels_message", "channels_group", "channels_heartbeat"):
        assert table in scope
    assert "other CHANNEL_BACKENDS aliases" in scope


def test_a_process_older_than_the_column_sends_into_the_default_alias(db_alias):
    """Interface servers outlive a worker deploy: their INSERTs, which do not
    name the column, land in the "default" alias (the column's database
    default), where the new workers receive them."""
    from django.db import connections

    from channels.serialization import encode

    default = DatabaseChannelBackend("default", DB_ALIAS=db_alias)
    other = DatabaseChannelBackend("other", DB_ALIAS=db_alias)
    try:
        with connections[db_alias].cursor() as cursor:
            cursor.execute(
                "INSERT INTO channels_message (inbox, channel, content, expires) "
                "VALUES (%s, %s, %s, %s)",
                ["flush.old", "flush.old", encode({"from": "old code"}), 4e9],
            )
        assert other.receive_many(["flush.old"]) == (None, None)
        assert default.receive_many(["flush.old"]) == ("flush.old", {"from": "old code"})
    finally:
        default.flush()
        default.close()
        other.close()


def test_migration_gives_existing_rows_to_the_only_alias_of_their_database(tmp_path):
    """Rows queued before 0003 stay visible to a project whose one database
    backend is not called "default"."""
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "channels"],
            DATABASES={{"default": {{
                "ENGINE": "django.db.backends.sqlite3", "NAME": {str(tmp_path / "db.sqlite3")!r}
            }}}},
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
            CHANNEL_BACKENDS={{"chat": {{"BACKEND": "database", "ROUTING": []}}}},
        )
        django.setup()
        from django.core.management import call_command
        from django.db import connection
        call_command("migrate", "channels", "0002", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO channels_message (inbox, channel, content, expires) "
                "VALUES ('old.queue', 'old.queue', %s, 1e12)", [b"\\x80"]
            )
            cursor.execute(
                "INSERT INTO channels_group (group_name, channel, expires) "
                "VALUES ('old-room', 'old.queue', 1e12)"
            )
        call_command("migrate", "channels", verbosity=0)
        from channels.backends.database import DatabaseChannelBackend
        chat = DatabaseChannelBackend("chat")
        print(chat.group_channels("old-room"), [c.name for c in chat.channel_stats()])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['old.queue'] ['old.queue']"


# --- memory --------------------------------------------------------------------


def test_memory_flush_deletes_only_its_own_object():
    one, two = InMemoryChannelBackend("one"), InMemoryChannelBackend("two")
    fill(one)
    fill(two)
    one.flush()
    assert_empty(one)
    assert_filled(two)
    assert "in the memory of process" in "\n".join(one.flush_scope())
