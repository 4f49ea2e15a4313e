"""The Redis backend over TLS (``rediss://``) against a TLS-only
redis-server with a CA and certificate made by the test: the conformance
suite, and a certificate that fails verification as a clear error at
start-up (of the backend, and of a real ``runworker``)."""

from __future__ import annotations

import secrets
import time

import pytest

from channels.backends.redis import RedisChannelBackend
from channels.exceptions import BackendUnavailable, ImproperlyConfiguredBackend

from ..processes import Process, manage, project_env
from .redis_cluster import LocalCluster
from .redis_sentinel import SentinelGroup
from .redis_tls import TLSRedisServer, make_ca
from .test_redis import RedisConformance

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    server = TLSRedisServer(tmp_path_factory.mktemp("tls"))
    server.start()
    yield server
    server.cleanup()


class TestRedisBackendOverTLS(RedisConformance):
    @pytest.fixture(autouse=True)
    def _server(self, tls_redis):
        # The CA in the URL's query, as a settings file can carry it.
        self.hosts = [f"{tls_redis.url}?ssl_ca_certs={tls_redis.ca_file}"]
        self.prefix = f"tls-{secrets.token_hex(4)}:"

    def test_the_connection_really_is_tls(self, backend, tls_redis):
        backend.send("tls.check", {"n": 1})
        with tls_redis.client() as client:
            assert client.keys(f"{self.prefix}*")  # reached over TLS only
            assert int(client.config_get("port")["port"]) == 0  # no plain port


def test_ca_in_connection_kwargs_or_a_hosts_dict(tls_redis):
    by_kwargs = RedisChannelBackend(
        "default", HOSTS=[tls_redis.url], CONNECTION_KWARGS={"ssl_ca_certs": str(tls_redis.ca_file)}
    )
    by_dict = RedisChannelBackend(
        "default",
        HOSTS=[
            {
                "host": "127.0.0.1",
                "port": tls_redis.port,
                "ssl": True,
                "ssl_ca_certs": str(tls_redis.ca_file),
            }
        ],
    )
    by_kwargs.send("tls.kwargs", {"n": 1})
    assert by_dict.receive_many(["tls.kwargs"], block=True, timeout=5) == ("tls.kwargs", {"n": 1})
    for backend in (by_kwargs, by_dict):
        backend.flush()
        backend.close()


def test_an_unverifiable_certificate_is_a_clear_error_at_start_up(tls_redis, tmp_path):
    other_ca, _, _ = make_ca(tmp_path, "some-other-ca")
    for hosts, options in [
        ([tls_redis.url], {}),  # the system's CAs: none signed it
        ([tls_redis.url], {"CONNECTION_KWARGS": {"ssl_ca_certs": str(other_ca)}}),
        # Signed by the right CA, but not for this name.
        (
            [f"rediss://127.0.0.2:{tls_redis.port}/0"],
            {"CONNECTION_KWARGS": {"ssl_ca_certs": str(tls_redis.ca_file)}},
        ),
    ]:
        with pytest.raises(ImproperlyConfiguredBackend) as refused:
            RedisChannelBackend("default", HOSTS=hosts, **options)
        text = str(refused.value)
        assert "TLS certificate failed verification" in text
        assert "ssl_ca_certs" in text
        assert hosts[0].split("?")[0] in text


def test_a_tls_server_that_is_down_does_not_stop_the_start(tls_redis):
    # As with plain servers: processes start and wait for Redis.
    port = tls_redis.port
    tls_redis.stop()
    try:
        backend = RedisChannelBackend(
            "default", HOSTS=[f"rediss://127.0.0.1:{port}/0"], SEND_RETRY_TIME=0
        )
        assert backend.receive_many(["tls.down"]) == (None, None)
    finally:
        tls_redis.start()


def test_runworker_refuses_to_start_with_an_unverifiable_certificate(tls_redis, tmp_path):
    env = project_env(
        "redis_project.settings",
        REDIS_PROJECT_HOSTS=tls_redis.url,  # no CA given: verification fails
        REDIS_PROJECT_SQLITE=str(tmp_path / "db.sqlite3"),
    )
    worker = Process(manage("runworker", "-v", "1"), env, tmp_path / "worker.log")
    try:
        assert worker.wait(timeout=60) != 0
        assert "TLS certificate failed verification" in worker.output()
    finally:
        worker.stop()


def test_a_redis_cluster_over_tls(tmp_path):
    # TLS-only nodes (clients, cluster bus, replication), seeds named as
    # rediss:// with the CA in the query.
    cluster = LocalCluster(tls_dir=tmp_path)
    try:
        backend = RedisChannelBackend("default", HOSTS=cluster.urls, CLUSTER=True)
        names = [f"tls.cluster.{n}" for n in range(30)]
        for name in names:
            backend.group_add("tls-cluster", name)
        assert backend.send_group("tls-cluster", {"n": 1}) == len(names)
        got = set()
        while len(got) < len(names):
            channel, message = backend.receive_many(names, block=True, timeout=5)
            assert message == {"n": 1}
            got.add(channel)
        assert got == set(names)
        reply = backend.new_channel("tls.inbox!")
        backend.send(reply, {"n": 2})
        assert backend.receive_many(["tls.inbox!"], block=True, timeout=5) == (reply, {"n": 2})
        rows = backend.server_stats()
        assert all(row.reachable for row in rows)  # status reaches the nodes over TLS
        assert sum(row.role == "master" for row in rows) == 3
        # A CA that did not sign the nodes' certificates: refused at start-up.
        other_ca, _, _ = make_ca(tmp_path, "not-the-cluster-ca")
        seed = cluster.urls[0].split("?")[0]
        with pytest.raises(ImproperlyConfiguredBackend, match="TLS certificate failed"):
            RedisChannelBackend("default", HOSTS=[f"{seed}?ssl_ca_certs={other_ca}"], CLUSTER=True)
    finally:
        cluster.cleanup()


def test_sentinel_over_tls_follows_a_failover(tmp_path):
    # Sentinels, primary and replica all TLS-only; the entry trusts the
    # test's CA for both the sentinels (SENTINEL_KWARGS) and the primary.
    group = SentinelGroup(tmp_path, tls=True)
    try:
        backend = RedisChannelBackend("default", HOSTS=[group.entry()])
        backend.group_add("tls-sentinel", "tls.s")
        backend.send("tls.s", {"n": 1})
        assert backend.receive_many(["tls.s"]) == ("tls.s", {"n": 1})
        with group.primary.client() as primary:
            assert primary.execute_command("WAIT", 1, 5000) == 1
        old = group.primary_port()
        group.kill_primary()
        assert group.wait_failover(old) != old
        deadline = time.monotonic() + 30
        while True:
            try:
                backend.send("tls.s", {"n": 2})
                break
            except BackendUnavailable:
                assert time.monotonic() < deadline
        assert backend.receive_many(["tls.s"], block=True, timeout=5) == ("tls.s", {"n": 2})
        assert backend.group_channels("tls-sentinel") == ["tls.s"]
        # A CA that did not sign the primary's certificate: refused at start-up.
        other_ca, _, _ = make_ca(tmp_path, "not-the-primary-ca")
        with pytest.raises(ImproperlyConfiguredBackend, match="TLS certificate failed"):
            RedisChannelBackend("default", HOSTS=[group.entry(ssl_ca_certs=str(other_ca))])
    finally:
        group.cleanup()
