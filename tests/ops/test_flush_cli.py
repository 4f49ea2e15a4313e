"""``channels flush`` run as an operator runs it (a process of its own):
it says exactly what it will delete before asking, and then deletes that and
nothing else. The deployment's PREFIX has no separator (``ops<hex>``, keys
``ops<hex>q:...``), the case that used to take other applications' keys
along."""

from __future__ import annotations

import pytest
import redis

from .harness import REDIS_URL, OpsDeployment


def waiting(deployment: OpsDeployment) -> dict[str, int]:
    return {c["name"]: c["depth"] for c in deployment.cli_json("status")["channels"]}


@pytest.mark.usefixtures("ops_redis")
def test_flush_lists_its_key_families_and_leaves_other_keys(tmp_path):
    d = OpsDeployment(tmp_path)
    prefix = d.env["CHANNELS_TEST_PREFIX"]
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    foreign = {
        f"{prefix}_cache:page": b"another app",
        f"{prefix}ointments:monday": b"a prefix extending ours",
        f"{prefix}:staging:q:ops.unserved": b"another deployment's queue",
    }
    try:
        for key, value in foreign.items():
            client.set(key, value)
        d.send("ops.unserved", {"n": 1}, count=4)
        assert waiting(d) == {"ops.unserved": 4}

        refused = d.cli("flush", input="n\n")
        assert refused.returncode == 1 and "Aborted" in refused.stderr
        said = refused.stdout
        assert "channels flush --backend default deletes" in said
        assert f"on Redis {REDIS_URL}, every key named" in said
        for family, what in (
            ("q:<channel>", "queued messages"),
            ("n:<inbox>", "message counts of process inboxes"),
            ("g:<group>", "group memberships"),
            ("w:<token>", "wake-up keys"),
            ("h:<process>", "heartbeats"),
        ):
            line = next(line for line in said.splitlines() if f" {prefix}{family} " in line)
            assert what in line
        assert f"not those of any other PREFIX, even one starting with '{prefix}'" in said
        assert "Drop every message and group membership listed above?" in said
        assert waiting(d) == {"ops.unserved": 4}

        confirmed = d.cli("flush", input="y\n")
        assert confirmed.returncode == 0, confirmed.stderr
        assert waiting(d) == {}
        assert client.keys(f"{prefix}[qngwh]:*") == []
        for key, value in foreign.items():
            assert client.get(key) == value
    finally:
        client.delete(*foreign)
        d.stop()


def test_flush_on_the_database_names_alias_and_tables(tmp_path):
    d = OpsDeployment(tmp_path, backend="database")
    try:
        d.send("ops.unserved", {"n": 1}, count=2)
        done = d.cli("flush", "--yes")
        assert done.returncode == 0, done.stderr
        said = done.stdout
        assert f"from database 'default' (sqlite database {tmp_path / 'db.sqlite3'})" in said
        assert "the rows of backend 'default' in" in said
        for table in ("channels_message", "channels_group", "channels_heartbeat"):
            assert table in said
        assert "rows of other CHANNEL_BACKENDS aliases in these tables are kept" in said
        assert "Flushed" in said
        assert waiting(d) == {}
    finally:
        d.stop()
