"""Test-wide Django settings: SQLite by default, PostgreSQL added when
CHANNELS_TEST_POSTGRES names a server (CI sets it; see .ci/run)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "projects"))


def _sqlite_path() -> str:
    """CHANNELS_TEST_SQLITE, or a fresh file per test session, so parallel
    runs never share (and flush) one database."""
    named = os.environ.get("CHANNELS_TEST_SQLITE")
    if named:
        return named
    fd, path = tempfile.mkstemp(prefix="channels-tests-", suffix=".sqlite3")
    os.close(fd)
    atexit.register(_remove_sqlite, path)
    return path


def _remove_sqlite(path: str) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(path + suffix)


def _postgres_database(url: str) -> dict:
    """A DATABASES entry for ``url``, in a schema of its own for this session
    (created and dropped by the ``channels_databases`` fixture)."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": {"options": f"-c search_path={POSTGRES_SCHEMA}"},
    }


#: The schema holding this session's tables on the PostgreSQL server.
POSTGRES_SCHEMA = f"channels_test_{os.getpid()}_{secrets.token_hex(4)}"
_SQLITE_PATH = _sqlite_path()


def test_databases() -> dict:
    """DATABASES: "default" is SQLite; "postgres" exists when
    CHANNELS_TEST_POSTGRES names a server (e.g.
    postgresql://postgres@127.0.0.1:5432/test)."""
    databases = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _SQLITE_PATH,
            "TEST": {"NAME": _SQLITE_PATH},
        }
    }
    if os.environ.get("CHANNELS_TEST_POSTGRES"):
        databases["postgres"] = _postgres_database(os.environ["CHANNELS_TEST_POSTGRES"])
    return databases


def test_settings() -> dict:
    """Settings for the test process (also handed to child processes)."""
    databases = test_databases()
    return {
        "DEBUG": False,
        "SECRET_KEY": "tests-only",
        "ALLOWED_HOSTS": ["*"],
        "INSTALLED_APPS": [
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "channels",
        ],
        "DATABASES": databases,
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
    }


if not settings.configured:
    settings.configure(**test_settings())
    django.setup()


@pytest.fixture(scope="session")
def channels_databases():
    """Migrate every test database once per session; yields the aliases.

    On PostgreSQL the tables go in this session's own schema, dropped at the
    end."""
    from django.core.management import call_command
    from django.db import connections

    aliases = list(settings.DATABASES)
    if "postgres" in aliases:
        with connections["postgres"].cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}")
    for alias in aliases:
        call_command("migrate", database=alias, interactive=False, verbosity=0)
    yield aliases
    if "postgres" in aliases:
        with connections["postgres"].cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE")
    connections.close_all()
