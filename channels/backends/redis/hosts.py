"""Reading ``HOSTS``: which Redis servers (or Sentinel-managed primaries)
the backend shards over, and how to make a connection pool for each.

A ``HOSTS`` entry may be:

* a URL: ``redis://[:password@]host[:port][/db]``, ``rediss://...`` for TLS,
  ``unix:///path/to/redis.sock[?db=0&password=...]``;
* a ``(host, port)`` pair;
* a dict of redis-py connection arguments (``host``, ``port``, ``db``,
  ``password``, ``username``, ``ssl``, ``ssl_ca_certs``, ``path`` for a unix
  socket, ...); a key redis-py does not take is a configuration error, so a
  typo cannot silently fall back to ``localhost:6379``;
* a dict naming a Sentinel-managed primary, in the form channels_redis and
  kombu users know: ``SENTINELS`` (list of ``(host, port)``), ``MASTER_NAME``,
  and optionally ``SENTINEL_KWARGS`` (redis-py arguments for the
  connections to the sentinels), ``DB``, ``PASSWORD`` (of the primary);
  lower-case keys are accepted too, and so are the connection arguments of
  a plain dict (``ssl``, ``socket_timeout``, ...) for the primary.

``CONNECTION_KWARGS`` (a dict) is passed to every server's pool, e.g.
``{"ssl_ca_certs": "/etc/ssl/redis.pem", "max_connections": 50}``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)

from ...exceptions import ImproperlyConfiguredBackend

_SCHEMES = ("redis", "rediss", "unix")

#: The keys of a Sentinel entry, each under its lower-case name too.
SENTINEL_KEYS = ("SENTINELS", "MASTER_NAME", "SENTINEL_KWARGS", "DB", "PASSWORD")


@functools.cache
def connection_arguments() -> frozenset[str]:
    """Every argument redis-py's connections and pools take (read off
    their signatures, so a new redis-py release needs no change here),
    plus ``ssl``, which picks the TLS connection class."""
    names = {"ssl"}
    classes = (
        redis.Connection,
        redis.SSLConnection,
        redis.UnixDomainSocketConnection,
        redis.ConnectionPool,
        *redis.Connection.__mro__,
    )
    for cls in classes:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name != "self" and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(name)
    return frozenset(names)


def check_connection_arguments(kwargs: dict, where: str, hint: bool = False) -> None:
    """Refuse keys of ``kwargs`` that no redis-py connection takes, naming them."""
    unknown = sorted(str(key) for key in kwargs if key not in connection_arguments())
    if unknown:
        raise ImproperlyConfiguredBackend(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: not a redis-py "
            "connection argument"
            + (f" (a Sentinel entry also takes {', '.join(SENTINEL_KEYS)})" if hint else "")
        )


class HostSpec:
    """One Redis server: how to reach it and the identity it has on the ring."""

    #: Whether a Sentinel finds the server (the status command asks it).
    sentinel = False

    def __init__(self, ident: str, url: str | None = None, kwargs: dict | None = None) -> None:
        self.ident = ident  # also the label in messages: never holds a password
        self.url = url
        self.kwargs = kwargs or {}

    def make_pool(self, common: dict) -> redis.ConnectionPool:
        """A connection pool for this server (it connects lazily)."""
        options = {**common, **self.kwargs}
        if self.url is not None:
            return redis.ConnectionPool.from_url(self.url, **options)
        if options.pop("ssl", False):
            options["connection_class"] = redis.SSLConnection
        if "path" in options:
            options["connection_class"] = redis.UnixDomainSocketConnection
            options.pop("host", None)
            options.pop("port", None)
        return redis.ConnectionPool(**options)


class SentinelSpec(HostSpec):
    """A primary found through Redis Sentinel, followed across failovers.

    Its identity on the hash ring is its master name and database, not the
    address of today's primary, so a failover moves no channel.
    """

    sentinel = True

    def __init__(
        self,
        master_name: str,
        sentinels: list[tuple[str, int]],
        sentinel_kwargs: dict,
        kwargs: dict,
    ) -> None:
        super().__init__(f"sentinel://{master_name}/{kwargs.get('db', 0)}", kwargs=kwargs)
        self.master_name = master_name
        self.sentinels = sentinels
        self.sentinel_kwargs = sentinel_kwargs

    def make_sentinel(self, common: dict) -> Sentinel:
        """A redis-py Sentinel client for this entry's sentinels."""
        # Without SENTINEL_KWARGS, redis-py gives the sentinel connections
        # the socket_* arguments of the primary's: our timeouts.
        options = {**common, **self.kwargs}
        options.pop("ssl", None)
        sentinel_kwargs = self.sentinel_kwargs or {
            key: value for key, value in options.items() if key.startswith("socket_")
        }
        return Sentinel(self.sentinels, sentinel_kwargs=sentinel_kwargs, **options)

    def make_pool(self, common: dict) -> redis.ConnectionPool:
        options = {**common, **self.kwargs}
        ssl = options.pop("ssl", False)
        options["connection_class"] = (
            SentinelManagedSSLConnection if ssl else SentinelManagedConnection
        )
        return SentinelConnectionPool(self.master_name, self.make_sentinel(common), **options)


def parse_hosts(options: dict) -> list[HostSpec]:
    """The servers named by the HOSTS, or HOST and PORT, options."""
    if "HOSTS" in options and ("HOST" in options or "PORT" in options):
        raise ImproperlyConfiguredBackend("give either HOSTS or HOST/PORT, not both")
    if "HOSTS" in options:
        hosts = options["HOSTS"]
        if isinstance(hosts, str | bytes) or not isinstance(hosts, Sequence) or not hosts:
            raise ImproperlyConfiguredBackend(
                "HOSTS must be a non-empty list of redis:// URLs, (host, port) pairs or "
                f"dicts, not {hosts!r:.60}"
            )
        specs = [_parse_host(entry) for entry in hosts]
    else:
        host = options.get("HOST", "localhost")
        port = options.get("PORT", 6379)
        if not isinstance(host, str) or not host:
            raise ImproperlyConfiguredBackend(f"HOST must be a host name, not {host!r}")
        specs = [_parse_host((host, port))]
    seen: set[str] = set()
    for spec in specs:
        if spec.ident in seen:
            raise ImproperlyConfiguredBackend(f"HOSTS lists {spec.ident} twice")
        seen.add(spec.ident)
    return specs


def _parse_host(entry: Any) -> HostSpec:
    if isinstance(entry, str):
        return _parse_url(entry)
    if isinstance(entry, list | tuple) and len(entry) == 2:
        host, port = entry
        if not isinstance(host, str) or not host or not _is_port(port):
            raise ImproperlyConfiguredBackend(
                f"a HOSTS pair must be (host, port), not {tuple(entry)!r}"
            )
        return HostSpec(f"redis://{host}:{port}/0", kwargs={"host": host, "port": port})
    if isinstance(entry, dict):
        if any(str(key).upper() in ("SENTINELS", "MASTER_NAME") for key in entry):
            return _parse_sentinel(entry)
        check_connection_arguments(entry, "HOSTS entry", hint=True)
        if "path" in entry:
            ident = f"unix://{entry['path']}?db={entry.get('db', 0)}"
        else:
            host, port = entry.get("host", "localhost"), entry.get("port", 6379)
            if not _is_port(port):
                raise ImproperlyConfiguredBackend(f"bad port in HOSTS entry {_safe(entry)}")
            scheme = "rediss" if entry.get("ssl") else "redis"
            ident = f"{scheme}://{host}:{port}/{entry.get('db', 0)}"
        return HostSpec(ident, kwargs=dict(entry))
    raise ImproperlyConfiguredBackend(
        f"cannot read HOSTS entry {entry!r:.60}: use a redis://, rediss:// or unix:// URL, "
        "a (host, port) pair or a dict"
    )


def _parse_sentinel(entry: dict) -> SentinelSpec:
    values: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in entry.items():
        name = str(key).upper()
        if name in SENTINEL_KEYS and (key == name or key == name.lower()):
            if name in values:
                raise ImproperlyConfiguredBackend(
                    f"a Sentinel HOSTS entry gives {name} twice (upper- and lower-case)"
                )
            values[name] = value
        else:
            rest[key] = value
    master = values.get("MASTER_NAME")
    if not isinstance(master, str) or not master:
        raise ImproperlyConfiguredBackend(
            "a Sentinel HOSTS entry needs MASTER_NAME, the name the sentinels monitor"
        )
    check_connection_arguments(rest, f"Sentinel HOSTS entry {master!r}", hint=True)
    for key in ("host", "port", "path"):
        if key in rest:
            raise ImproperlyConfiguredBackend(
                f"a Sentinel HOSTS entry takes no {key!r}: the sentinels name the primary"
            )
    sentinels = values.get("SENTINELS")
    if isinstance(sentinels, str | bytes) or not isinstance(sentinels, Sequence) or not sentinels:
        raise ImproperlyConfiguredBackend(
            f"SENTINELS of {master!r} must be a non-empty list of (host, port) pairs"
        )
    pairs = []
    for pair in sentinels:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not _is_port(pair[1])
        ):
            raise ImproperlyConfiguredBackend(
                f"SENTINELS of {master!r} must hold (host, port) pairs, not {pair!r:.40}"
            )
        pairs.append((pair[0], pair[1]))
    sentinel_kwargs = values.get("SENTINEL_KWARGS") or {}
    if not isinstance(sentinel_kwargs, dict):
        raise ImproperlyConfiguredBackend(f"SENTINEL_KWARGS of {master!r} must be a dict")
    check_connection_arguments(sentinel_kwargs, f"SENTINEL_KWARGS of {master!r}")
    db = values.get("DB", 0)
    if isinstance(db, bool) or not isinstance(db, int) or db < 0:
        raise ImproperlyConfiguredBackend(f"DB of {master!r} must be a number, not {db!r}")
    kwargs = {**rest, "db": db}
    if values.get("PASSWORD") is not None:
        kwargs["password"] = values["PASSWORD"]
    return SentinelSpec(master, pairs, dict(sentinel_kwargs), kwargs)


def _parse_url(url: str) -> HostSpec:
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ImproperlyConfiguredBackend(
            f"Redis URL {_mask(url)!r} must start with redis://, rediss:// or unix://"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfiguredBackend(f"bad port in Redis URL {_mask(url)!r}") from exc
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise ImproperlyConfiguredBackend(f"unix:// URL {_mask(url)!r} names no socket path")
        db = query.get("db", ["0"])[0]
        return HostSpec(f"unix://{parts.path}?db={db}", url=url)
    if not parts.hostname:
        raise ImproperlyConfiguredBackend(f"Redis URL {_mask(url)!r} names no host")
    db = parts.path.strip("/") or query.get("db", ["0"])[0]
    if not db.isdigit():
        raise ImproperlyConfiguredBackend(
            f"the database in Redis URL {_mask(url)!r} must be a number"
        )
    return HostSpec(f"{parts.scheme}://{parts.hostname}:{port or 6379}/{db}", url=url)


def _is_port(port: Any) -> bool:
    return isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536


def _mask(url: str) -> str:
    """``url`` with any password replaced, fit for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _safe(entry: dict) -> str:
    """A HOSTS dict for an error message, its password masked."""
    return repr({k: ("***" if "password" in str(k).lower() else v) for k, v in entry.items()})
