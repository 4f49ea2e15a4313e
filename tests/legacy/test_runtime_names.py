"""The smaller Channels 1.x names of the runtime, used the way 1.x projects
used them (issue 9, items 1 and 11)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from functools import partial

import pytest
from django.test import override_settings

from channels import channel_backends
from channels.checks import check_channel_backends
from channels.exceptions import ImproperlyConfiguredBackend
from channels.routing import route

from ..processes import project_env
from .runtime_project.harness import SETTINGS, RuntimeProject

RUNTIME_ROUTING = "tests.legacy.runtime_project.routing.channel_routing"


def test_routing_helpers_import_from_channels_and_pass_the_checks():
    """Every 1.x routing.py says ``from channels import route``: without it the
    routing cannot be imported and system check channels.E004 stops every command."""
    from channels import include, route_class
    from channels import route as exported
    from channels.routing import include as routing_include
    from channels.routing import route_class as routing_route_class

    assert (exported, include, route_class) == (route, routing_include, routing_route_class)
    with override_settings(
        CHANNEL_BACKENDS={"default": {"BACKEND": "memory", "ROUTING": RUNTIME_ROUTING}}
    ):
        assert check_channel_backends() == []
        assert {"websocket.connect", "websocket.receive"} <= channel_backends[
            "default"
        ].router.channels


class Consumer:
    def __call__(self, message):
        pass

    def method(self, message):
        pass

    @classmethod
    def build(cls):
        pass


def plain(message):
    pass


def test_name_that_thing():
    from channels.utils import name_that_thing

    here = __name__
    assert name_that_thing(plain) == f"{here}.plain"
    assert name_that_thing(Consumer) == f"{here}.Consumer"
    assert name_that_thing(Consumer()) == f"{here}.Consumer"
    assert name_that_thing(Consumer().method) == f"{here}.Consumer.method"
    assert name_that_thing(Consumer.build) == f"{here}.Consumer.build"
    assert name_that_thing(len) == "builtins.len"
    assert name_that_thing(partial(plain)) == "functools.partial"
    assert name_that_thing(3) == "builtins.int"


def run_fresh(code: str, tmp_path, settings_in_env: bool = True) -> str:
    """Run ``code`` in a new interpreter, in the runtime project's environment."""
    env = RuntimeProject(tmp_path).env
    if not settings_in_env:
        del env["DJANGO_SETTINGS_MODULE"]
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_1x_asgi_module_works_unchanged(tmp_path):
    """The asgi.py of every 1.x project, imported in a fresh process."""
    (tmp_path / "oldproject").mkdir()
    (tmp_path / "oldproject" / "__init__.py").write_text("")
    (tmp_path / "oldproject" / "asgi.py").write_text(
        textwrap.dedent(
            f"""
            import os
            from channels.asgi import get_channel_layer

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{SETTINGS}")
            channel_layer = get_channel_layer()
            """
        )
    )
    output = run_fresh(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from oldproject.asgi import channel_layer
        from channels.asgi import channel_layers
        channel_layer.send("old.style", {{"text": "hi"}})
        print(channel_layer.receive(["old.style"]))
        print(channel_layers["default"] is channel_layer)
        print("websocket.receive" in channel_layer.router.channels)
        """,
        tmp_path,
        settings_in_env=False,  # asgi.py sets it, as a 1.x asgi.py did
    )
    assert output.splitlines() == ["('old.style', {'text': 'hi'})", "True", "True"]


def test_channels_auth_imports_before_the_app_registry_is_ready(tmp_path):
    output = run_fresh(
        """
        import channels.auth
        from django.apps import apps
        assert not apps.ready
        import django
        django.setup()
        print(type(channels.auth.user_of(None)).__name__)
        """,
        tmp_path,
    )
    assert output.strip() == "AnonymousUser"


def test_channels_auth_imports_without_settings_at_all():
    env = project_env(SETTINGS)
    del env["DJANGO_SETTINGS_MODULE"]
    result = subprocess.run(
        [sys.executable, "-c", "import channels.auth, channels.asgi, channels.signals"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "layer, instead",
    [
        ("asgi_rabbitmq.RabbitmqChannelLayer", "use the Redis backend"),
        ("asgi_ipc.IPCChannelLayer", "use the database backend"),
    ],
)
def test_a_1x_layer_we_do_not_have_is_a_clear_error(layer, instead):
    layers = {"default": {"BACKEND": layer, "ROUTING": RUNTIME_ROUTING, "CONFIG": {}}}
    with override_settings(CHANNEL_LAYERS=layers):
        with pytest.raises(ImproperlyConfiguredBackend, match=instead):
            channel_backends["default"]
        [error] = check_channel_backends()
        assert error.id == "channels.E001" and instead in error.msg
        assert "CHANNEL_BACKENDS" in error.hint


@override_settings(CHANNEL_BACKENDS={"default": {"BACKEND": "memory", "ROUTING": RUNTIME_ROUTING}})
def test_1x_worker_class_with_callback_signals_and_termed(caplog):
    """``channels.worker.Worker`` built and stopped the 1.x way, in a thread."""
    from channels.signals import consumer_finished, consumer_started, worker_ready
    from channels.worker import Worker

    backend = channel_backends["default"]
    seen, called = [], []

    def record(sender, signal, **kwargs):
        seen.append((signal, sender, kwargs))

    for signal in (consumer_started, consumer_finished, worker_ready):
        signal.connect(record)
    try:
        worker = Worker(
            channel_layer=backend,
            callback=lambda channel, message: called.append((channel, message.content)),
            signal_handlers=False,
            exclude_channels=["http.*"],
        )
        assert "http.request" not in worker.channels
        assert "websocket.disconnect" in worker.channels
        worker.ready()
        thread = threading.Thread(target=worker.run)
        thread.start()
        backend.send("websocket.connect", {"reply_channel": "reply.one", "path": "/"})
        with caplog.at_level(logging.DEBUG, "channels.worker"):
            # Nothing routes websocket.disconnect here: dropped, without a warning.
            backend.send("websocket.disconnect", {"reply_channel": "reply.one", "path": "/"})
            deadline = time.monotonic() + 10
            while len(called) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            worker.termed = True
            thread.join(timeout=10)
        assert not thread.is_alive()
    finally:
        for signal in (consumer_started, consumer_finished, worker_ready):
            signal.disconnect(record)
    assert [c[0] for c in called] == ["websocket.connect", "websocket.disconnect"]
    assert backend.receive(["reply.one"]) == ("reply.one", {"accept": True})
    assert [(s, sender) for s, sender, _ in seen] == [
        (worker_ready, worker),
        (consumer_started, Worker),
        (consumer_finished, Worker),
    ]
    assert seen[1][2] == {"environ": {}}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "no route for websocket.disconnect" in caplog.text
