"""``ChannelLiveServerTestCase`` as the 1.x testing docs use it, and
``websocketbridge.js`` in Chromium against it.

The live server runs the data-binding project (tests/legacy/databinding) in
``runwsserver`` + ``runworker`` child processes on the test database, on the
database backend and on Redis. A Python WebSocket client and a headless
Chromium (Selenium, Debian's chromedriver) reach it through
``live_server_ws_url`` / ``live_server_url``; the page loads
``{% static "channels/js/websocketbridge.js" %}``, demultiplexes the binding
stream, sends on it, and reconnects after the interface server restarts,
after which it receives and sends again; screenshots before the restart and
after the reconnection are kept with the browser test's artifacts.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.request

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from channels.test import ChannelLiveServerTestCase
from channels.test.liveserver import LiveServer
from tests.browser.test_chat_in_chromium import ARTIFACTS, _chromium, _unavailable
from tests.processes import wait_until
from tests.services import REDIS_URL, require_redis

from .conftest import BINDING_APPS

with override_settings(INSTALLED_APPS=BINDING_APPS):
    from .databinding.values.models import IntegerValue

pytestmark = pytest.mark.timeout(300)

PROJECT = {
    "INSTALLED_APPS": BINDING_APPS,
    "ROOT_URLCONF": "tests.legacy.databinding.urls",
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [os.path.join(os.path.dirname(__file__), "databinding", "templates")],
        }
    ],
    "STATIC_URL": "/static/",
    "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware"],
    "SESSION_ENGINE": "django.contrib.sessions.backends.db",
}
ROUTING = "tests.legacy.databinding.routing.channel_routing"
#: Upper bound of every wait on the processes or the browser.
WAIT = 30


def driver_screenshot(driver, path):
    """A screenshot of the page (kept with the browser test's artifacts)."""
    assert driver.save_screenshot(str(path)), f"no screenshot {path}"
    return path


class LiveBindingTests:
    """The tests, run by one subclass per backend."""

    def receive(self, socket) -> dict:
        try:
            return json.loads(socket.recv(timeout=WAIT))
        except TimeoutError:
            raise AssertionError(f"no frame in {WAIT} s\n{self._live_server.logs()}") from None

    def test_pages_static_files_and_websockets(self):
        from websockets.sync.client import connect

        with urllib.request.urlopen(self.live_server_url + "/", timeout=WAIT) as page:
            html = page.read().decode()
        self.assertIn('src="/static/channels/js/websocketbridge.js"', html)
        script_url = self.live_server_url + "/static/channels/js/websocketbridge.js"
        with urllib.request.urlopen(script_url, timeout=WAIT) as script:
            self.assertIn(b"WebSocketBridge", script.read())

        with connect(self.live_server_ws_url + "/binding/", open_timeout=WAIT) as socket:
            value = IntegerValue.objects.create(name="live", value=1)
            self.assertEqual(
                self.receive(socket),
                {
                    "stream": "intval",
                    "payload": {
                        "action": "create",
                        "pk": value.pk,
                        "data": {"name": "live", "value": 1},
                        "model": "values.integervalue",
                    },
                },
            )
            socket.send(
                json.dumps(
                    {
                        "stream": "intval",
                        "payload": {"action": "update", "pk": value.pk, "data": {"value": 5}},
                    }
                )
            )
            self.assertEqual(self.receive(socket)["payload"]["data"]["value"], 5)
            value.refresh_from_db()
            self.assertEqual(value.value, 5)

    def test_websocketbridge_in_chromium_demultiplexes_sends_and_reconnects(self):
        reason = _unavailable()
        if reason:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
            pytest.skip(reason)
        from selenium.webdriver.support.ui import WebDriverWait

        profile = self._live_server.tmp / "chromium"
        driver = _chromium(profile)
        try:
            wait = WebDriverWait(driver, WAIT, poll_frequency=0.05)

            def js(script, *args):
                return driver.execute_script(script, *args)

            def received():
                return js("return window.received;")

            driver.get(self.live_server_url + "/")
            wait.until(lambda d: js("return window.webSocketBridge.socket.readyState") == 1)
            js(
                "window.opens = 0;"
                "window.webSocketBridge.socket.addEventListener('open', () => window.opens++);"
            )

            # Outbound: an ORM save here reaches the page's demultiplex callback.
            value = IntegerValue.objects.create(name="seven", value=7)
            wait.until(lambda d: len(received()) == 1)
            self.assertEqual(
                received()[0],
                {
                    "stream": "intval",
                    "payload": {
                        "action": "create",
                        "pk": value.pk,
                        "data": {"name": "seven", "value": 7},
                        "model": "values.integervalue",
                    },
                },
            )
            self.assertEqual(
                js("return document.querySelector('#values li').textContent"), "create seven=7"
            )

            # Inbound: the page sends on the stream; the row is made and announced.
            js(
                "window.webSocketBridge.stream('intval').send("
                "{action: 'create', data: {name: 'from-browser', value: 8}});"
            )
            made = wait_until(
                lambda: IntegerValue.objects.filter(name="from-browser").first(), timeout=WAIT
            )
            self.assertEqual(made.value, 8)
            wait.until(lambda d: len(received()) == 2)
            self.assertEqual(received()[1]["payload"]["pk"], made.pk)

            shots = [driver_screenshot(driver, profile.parent / "bridge-before-restart.png")]

            # The interface server restarts: the bridge reconnects by itself.
            self.restart_interface_server(down_for=1.0)
            wait.until(lambda d: js("return window.opens") >= 1)
            wait.until(lambda d: js("return window.webSocketBridge.socket.readyState") == 1)
            # Both directions again on the new socket: a save reaches the page...
            made.value = 9
            made.save()
            wait.until(lambda d: len(received()) == 3)
            self.assertEqual(received()[2]["payload"]["action"], "update")
            self.assertEqual(received()[2]["payload"]["data"]["value"], 9)
            # ...and the page's own sends on the stream reach the database.
            js(
                "window.webSocketBridge.stream('intval').send("
                "{action: 'update', pk: arguments[0], data: {value: 10}});",
                made.pk,
            )
            wait.until(lambda d: len(received()) == 4)
            self.assertEqual(received()[3]["payload"]["data"]["value"], 10)
            made.refresh_from_db()
            self.assertEqual(made.value, 10)
            js(
                "window.webSocketBridge.stream('intval').send("
                "{action: 'delete', pk: arguments[0]});",
                made.pk,
            )
            wait.until(lambda d: len(received()) == 5)
            self.assertEqual(received()[4]["payload"]["action"], "delete")
            self.assertFalse(IntegerValue.objects.filter(pk=made.pk).exists())
            items = js(
                "return [...document.querySelectorAll('#values li')].map(li => li.textContent)"
            )
            self.assertEqual(
                items,
                [
                    "create seven=7",
                    "create from-browser=8",
                    "update from-browser=9",
                    "update from-browser=10",
                    "delete from-browser=10",
                ],
            )
            shots.append(driver_screenshot(driver, profile.parent / "bridge-after-reconnect.png"))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for shot in shots:
                shutil.copyfile(shot, ARTIFACTS / f"{type(self).__name__}-{shot.name}")
        finally:
            driver.quit()


@override_settings(
    **PROJECT, CHANNEL_BACKENDS={"default": {"BACKEND": "database", "ROUTING": ROUTING}}
)
class DatabaseBackendLiveTests(LiveBindingTests, ChannelLiveServerTestCase):
    pass


@override_settings(
    **PROJECT,
    # A 1.x project's setting: TEST_CONFIG, not CONFIG, is what tests use.
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "asgi_redis.RedisChannelLayer",
            "ROUTING": ROUTING,
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # the dev server's: unreachable
            "TEST_CONFIG": {"hosts": [REDIS_URL], "prefix": f"live-{secrets.token_hex(4)}:"},
        }
    },
)
class RedisBackendLiveTests(LiveBindingTests, ChannelLiveServerTestCase):
    @classmethod
    def _pre_setup(cls):
        require_redis()
        super()._pre_setup()


@override_settings(CHANNEL_BACKENDS={"default": {"BACKEND": "memory", "ROUTING": ROUTING}})
def test_the_memory_backend_is_refused():
    with pytest.raises(ImproperlyConfigured, match="not the memory backend"):
        LiveServer("localhost", 1, True, 10)
