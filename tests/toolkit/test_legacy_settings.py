"""A Channels 1.x CHANNEL_LAYERS setting, mapped onto CHANNEL_BACKENDS."""

import logging
import re

import pytest
from django.test import override_settings

from channels import channel_backends, channel_layers
from channels.backends.legacy import legacy_backend_settings
from channels.backends.registry import backend_settings
from channels.checks import check_channel_backends
from channels.exceptions import ImproperlyConfiguredBackend

pytestmark = pytest.mark.own_settings

REDIS_LAYERS = {
    "default": {
        "BACKEND": "asgi_redis.RedisChannelLayer",
        "ROUTING": "tests.toolkit.legacy_chat.routing.channel_routing",
        "CONFIG": {
            "hosts": [("127.0.0.1", 6379)],
            "capacity": 200,
            "channel_capacity": {"http.request": 300, re.compile(r"^websocket"): 50},
            "expiry": 30,
            "group_expiry": 3600,
            "prefix": "legacy:",
        },
    },
    "other": {"BACKEND": "asgiref.inmemory.ChannelLayer", "CONFIG": {"prefix": "x"}},
}


def test_redis_layer_maps_onto_the_redis_backend(caplog):
    with override_settings(CHANNEL_LAYERS=REDIS_LAYERS):
        with caplog.at_level(logging.WARNING, "channels.backends"):
            mapped = backend_settings()
            backend_settings()
        assert mapped["default"] == {
            "BACKEND": "channels.backends.redis.RedisChannelBackend",
            "ROUTING": "tests.toolkit.legacy_chat.routing.channel_routing",
            "HOSTS": [["127.0.0.1", 6379]],
            "CAPACITY": 200,
            "CHANNEL_CAPACITY": {"http.request": 300},
            "EXPIRY": 30,
            "GROUP_EXPIRY": 3600,
            "PREFIX": "legacy:",
        }
        assert mapped["other"]["BACKEND"] == "channels.backends.memory.InMemoryChannelBackend"
        # One line, once, naming what was done and what was dropped.
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1
        assert "CHANNEL_LAYERS" in lines[0] and "RedisChannelBackend" in lines[0]
        assert "regex" in lines[0] and "CONFIG['prefix']" in lines[0]
        backend = channel_backends["default"]
        assert backend.capacity == 200 and backend.prefix == "legacy:"
        assert channel_layers is channel_backends


def test_inmemory_layer_and_checks():
    layers = {
        "default": {
            "BACKEND": "asgiref.inmemory.ChannelLayer",
            "ROUTING": "tests.toolkit.legacy_chat.routing.channel_routing",
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        assert legacy_backend_settings()["default"]["BACKEND"].endswith("InMemoryChannelBackend")
        assert check_channel_backends() == []


def test_unknown_layer_is_a_clear_error():
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "mylayer.Layer"}}):
        with pytest.raises(ImproperlyConfiguredBackend, match="no equivalent"):
            backend_settings()
        assert check_channel_backends()[0].id == "channels.E001"


def test_channel_backends_wins():
    with override_settings(
        CHANNEL_LAYERS=REDIS_LAYERS, CHANNEL_BACKENDS={"default": {"BACKEND": "memory"}}
    ):
        assert backend_settings() == {"default": {"BACKEND": "memory"}}
