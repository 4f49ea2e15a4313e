"""The 1.x API tests: every test has the suite's migrated databases; the
data-binding app's table is created once (under settings that install it)."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

#: The suite's apps plus those of the data-binding project.
BINDING_APPS = [
    *settings.INSTALLED_APPS,
    "django.contrib.staticfiles",
    "tests.legacy.databinding.values",
]


@pytest.fixture(scope="session")
def binding_tables(channels_databases):
    """Create the ``values`` app's table in the default test database."""
    with override_settings(INSTALLED_APPS=BINDING_APPS):
        call_command("migrate", "values", database="default", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def legacy_databases(channels_databases, binding_tables):
    """Migrated tables for every test here."""
