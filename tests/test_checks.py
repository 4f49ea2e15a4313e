"""Misconfigured CHANNEL_BACKENDS are system-check errors that name the problem."""

import subprocess

import pytest
from django.test import override_settings

from channels.checks import check_channel_backends

from .processes import manage, project_env

GOOD = {
    "BACKEND": "channels.backends.memory.InMemoryChannelBackend",
    "ROUTING": "tests.test_routing.nested_routes",
}


def errors_for(config):
    with override_settings(CHANNEL_BACKENDS=config):
        return [(e.id, e.msg) for e in check_channel_backends()]


def test_valid_settings_pass():
    assert errors_for({"default": GOOD}) == []
    assert errors_for({"default": dict(GOOD, BACKEND="memory", CAPACITY=5, EXPIRY=2.5)}) == []


@pytest.mark.parametrize(
    "config, error_id, text",
    [
        ("not a dict", "channels.E001", "must be a dict"),
        ({"default": {"ROUTING": GOOD["ROUTING"]}}, "channels.E002", "has no BACKEND"),
        (
            {"default": dict(GOOD, BACKEND="nowhere.Backend")},
            "channels.E002",
            "cannot import backend 'nowhere.Backend'",
        ),
        (
            {"default": dict(GOOD, BACKEND="django.http.HttpResponse")},
            "channels.E002",
            "not a subclass",
        ),
        ({"default": dict(GOOD, CAPACITY=0)}, "channels.E002", "CAPACITY must be a positive"),
        ({"default": dict(GOOD, EXPIRY="soon")}, "channels.E002", "EXPIRY must be a positive"),
        (
            {"default": dict(GOOD, HOSTS=["redis://x"])},
            "channels.E002",
            "does not take option(s) HOSTS",
        ),
        (
            {"default": dict(GOOD, CHANNEL_CAPACITY={"x.*": -1})},
            "channels.E002",
            "CHANNEL_CAPACITY",
        ),
        ({"default": {"BACKEND": "memory"}}, "channels.E003", "has no ROUTING"),
        (
            {"default": dict(GOOD, ROUTING="no.such.routing")},
            "channels.E004",
            "cannot import routing",
        ),
    ],
)
def test_each_mistake_is_named(config, error_id, text):
    errors = errors_for(config)
    assert len(errors) == 1, errors
    assert errors[0][0] == error_id
    assert text in errors[0][1]


def test_manage_check_reports_the_error(tmp_path):
    settings = tmp_path / "broken_settings.py"
    settings.write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = ['channels']\n"
        "CHANNEL_BACKENDS = {'default': {'BACKEND': 'memory', 'ROUTING': 'a.b', 'CAPACTY': 3}}\n"
    )
    env = project_env("broken_settings")
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    result = subprocess.run(manage("check"), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "channels.E002" in result.stderr and "CAPACTY" in result.stderr


def test_no_channel_backends_means_plain_django():
    assert errors_for(None) == []
