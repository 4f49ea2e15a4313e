"""Test-wide Django settings: SQLite by default, PostgreSQL added when
CHANNELS_TEST_POSTGRES names a server (CI sets it; see .ci/run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


def test_settings() -> dict:
    """Settings for the test process (also handed to child processes)."""
    databases = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-tests.sqlite3"),
            "TEST": {"NAME": os.environ.get("CHANNELS_TEST_SQLITE", "/tmp/channels-tests.sqlite3")},
        }
    }
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
