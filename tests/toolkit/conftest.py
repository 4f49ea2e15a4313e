"""Settings for the in-process toolkit tests: memory backend, the routes of
``tests.toolkit.consumers``, database tables migrated."""

import pytest
from django.test import override_settings

TOOLKIT_SETTINGS = {
    "CHANNEL_BACKENDS": {
        "default": {"BACKEND": "memory", "ROUTING": "tests.toolkit.consumers.routes"}
    },
    "SESSION_ENGINE": "django.contrib.sessions.backends.db",
    # Password hashing is deliberately slow; tests need no such protection.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
}


@pytest.fixture(autouse=True)
def toolkit_settings(request, channels_databases):
    """Every toolkit test gets migrated tables and the toolkit routing."""
    if request.node.get_closest_marker("own_settings"):
        yield
        return
    with override_settings(**TOOLKIT_SETTINGS):
        yield


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "own_settings: the test sets its own settings (no toolkit routing)"
    )
