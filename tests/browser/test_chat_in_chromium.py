"""The chat demo in a real browser: Debian's Chromium, headless, driven by
Selenium through Debian's chromedriver.

The demo runs as ``examples/demo.sh`` runs it (migrate into SQLite, two
``runworker``, one ``runwsserver --accept-all``). Two independent browser
sessions sign up through the demo's own pages, join one room and chat; then
one reloads its page, reconnects and keeps receiving. Screenshots of both
windows are kept in the test's ``tmp_path`` and the side-by-side one is also
copied to ``/tmp/channels-browser-artifacts/``.

In CI (``CI=true``) a missing Chromium, chromedriver or Selenium fails the
test; elsewhere it is skipped with the reason (``.ci/run`` installs them).
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.processes import ROOT, Process, free_port, wait_for_port

pytestmark = pytest.mark.timeout(240)

DEMO = ROOT / "examples" / "chatdemo"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("CHANNELS_BROWSER_ARTIFACTS", "/tmp/channels-browser-artifacts"))
ROOM = "browser-test"
#: Upper bound of every wait on the browser.
WAIT = 30
WINDOW = (760, 640)


def _unavailable() -> str | None:
    """Why the browser test cannot run here, or None."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        return (
            f"{' and '.join(missing)} missing: apt-get install -y --no-install-recommends "
            "chromium chromium-driver (.ci/run does it)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


class Demo:
    """The chat demo as demo.sh runs it, on a temporary SQLite database."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CHANNELS_", "DJANGO_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="chatdemo.settings",
            CHANNELS_DEMO_DB=str(tmp / "demo.sqlite3"),
            PYTHONPATH=os.pathsep.join([str(DEMO), str(ROOT), os.environ.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.processes: list[Process] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, str(DEMO / "manage.py"), *args]

    def start(self) -> None:
        subprocess.run(
            self.manage("migrate", "--noinput", "-v", "0"),
            cwd=DEMO, env=self.env, check=True, timeout=120,
        )  # fmt: skip
        for number in (1, 2):
            worker = Process(self.manage("runworker"), self.env, self.tmp / f"worker{number}.log")
            self.processes.append(worker)
        server = Process(
            self.manage("runwsserver", "--accept-all", f"127.0.0.1:{self.port}"),
            self.env,
            self.tmp / "runwsserver.log",
        )
        self.processes.append(server)
        for worker in self.processes[:2]:
            worker.wait_for_output("serving")
        server.wait_for_output("Listening on")
        wait_for_port(self.port)

    def logs(self) -> str:
        return "\n".join(
            f"--- {proc.log_path.name}\n{proc.output()[-4000:]}" for proc in self.processes
        )

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()


@pytest.fixture
def demo(tmp_path):
    running = Demo(tmp_path)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _chromium(profile: Path):
    """One headless Chromium session with a profile of its own."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Debian's chromedriver, named explicitly: Selenium Manager has nothing
    # to look up, let alone download.
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile) + ".driver.log")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


class Window:
    """One user's browser session on the demo."""

    def __init__(self, name: str, driver, demo: Demo) -> None:
        self.name = name
        self.driver = driver
        self.demo = demo
        self.console_log = ""

    def wait(self, condition, what: str, timeout: float = WAIT):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"{self.name}: {what} not seen in {timeout}s\n"
                f"URL {self.driver.current_url}\n--- page text\n{self.text()}\n"
                f"--- console\n{self.console()}\n{self.demo.logs()}"
            ) from None

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self) -> str:
        try:
            return self.find("body").text
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"<no page text: {exc}>"

    def console(self) -> str:
        """The browser console since the last call (kept in ``console_log`` too)."""
        try:
            entries = self.driver.get_log("browser")
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"<no console log: {exc}>"
        text = "".join(f"{e['level']} {e['message']}\n" for e in entries)
        self.console_log += text
        return text

    def socket_close_code(self, path: str) -> int:
        """Open a WebSocket to ``path`` from the current page; its close code."""
        return self.driver.execute_async_script(
            """
            const [url, done] = [arguments[0], arguments[arguments.length - 1]];
            const socket = new WebSocket(url);
            socket.onclose = (e) => done(e.code);
            """,
            self.demo.url.replace("http:", "ws:") + path,
        )

    def sign_up(self, username: str, password: str) -> None:
        """Sign up through the demo's form; it logs in and lands on the room list."""
        self.driver.get(self.demo.url + "/")
        self.wait(lambda d: "/accounts/login/" in d.current_url, "redirect to the login page")
        self.find("a[href='/accounts/signup/']").click()
        self.wait(lambda d: d.current_url.endswith("/accounts/signup/"), "the sign-up page")
        self.find("input[name=username]").send_keys(username)
        self.find("input[name=password1]").send_keys(password)
        self.find("input[name=password2]").send_keys(password)
        self.find("form button").click()
        self.wait(lambda d: d.current_url == self.demo.url + "/", "the room list after sign-up")
        assert f"Logged in as {username}" in self.text()

    def join(self, room: str) -> None:
        """Join a room from the room list and wait for the socket to open."""
        field = self.find("input[name=room]")
        field.clear()
        field.send_keys(room)
        self.find("form[method=get] button").click()
        self.wait(lambda d: d.current_url == f"{self.demo.url}/chat/{room}/", "the room page")
        self.wait_connected()

    def refuse_bad_room(self, room: str) -> None:
        """The room form refuses a name that is no slug (its pattern is valid
        in a real browser); typed past the form, the server answers with the
        form and an error, not a 500."""
        field = self.find("input[name=room]")
        field.clear()
        field.send_keys(room)
        assert self.driver.execute_script("return arguments[0].validity.patternMismatch", field), (
            "the room pattern lets a non-slug through"
        )
        self.find("form[method=get] button").click()
        assert self.driver.current_url == self.demo.url + "/", "the form was submitted"
        self.driver.get(f"{self.demo.url}/?{urlencode({'room': room})}")
        self.wait(lambda d: self.find("#error").is_displayed(), "the room name error")
        assert "letters, digits, - and _ only" in self.text()
        assert self.find("input[name=room]").get_attribute("value") == room

    def wait_connected(self) -> None:
        self.wait(lambda d: self.find("#status").text == "connected", "status 'connected'")

    def lines(self) -> list[str]:
        from selenium.webdriver.common.by import By

        return [li.text for li in self.driver.find_elements(By.CSS_SELECTOR, "#log li")]

    def wait_line(self, line: str) -> None:
        self.wait(lambda d: line in self.lines(), f"chat line {line!r}")

    def say(self, text: str) -> None:
        self.find("#message").send_keys(text)
        self.find("#say button").click()

    def screenshot(self, path: Path) -> Path:
        assert self.driver.save_screenshot(str(path)), f"no screenshot of {self.name}"
        return path


def _side_by_side(window: Window, shots: list[tuple[str, Path]], out: Path) -> Path:
    """Both windows' screenshots in one picture, laid out by the browser itself."""
    cells = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f"<img src='data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}'>"
        "</figure>"
        for caption, path in shots
    )
    page = out.with_suffix(".html")
    page.write_text(
        "<!doctype html><meta charset=utf-8><style>"
        "body{margin:0;display:flex;gap:8px;background:#888;font:14px sans-serif}"
        "figure{margin:0;background:#fff}figcaption{padding:4px 8px;background:#333;color:#fff}"
        "img{display:block;border:1px solid #333}</style>" + cells
    )
    driver = window.driver
    driver.get(page.as_uri())
    window.wait(
        lambda d: d.execute_script(
            "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        ),
        "the side-by-side screenshot page",
    )
    width, height = driver.execute_script(
        "return [document.body.scrollWidth, document.body.scrollHeight]"
    )
    # The headless window is no taller than its (virtual) screen: size the
    # viewport to the page instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        assert driver.save_screenshot(str(out))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return out


def test_two_browsers_chat_and_one_reloads(demo, tmp_path):
    windows: list[Window] = []
    try:
        for name in ("alice", "bob"):
            profile = tmp_path / f"chromium-{name}"
            profile.mkdir()
            windows.append(Window(name, _chromium(profile), demo))
        alice, bob = windows

        alice.sign_up("alice", "correct-horse-battery-1")
        bob.sign_up("bob", "correct-horse-battery-2")
        # Two sessions, two users: the cookies are not shared.
        assert (
            alice.driver.get_cookie("sessionid")["value"]
            != bob.driver.get_cookie("sessionid")["value"]
        )

        alice.join(ROOM)
        alice.wait_line("alice joined")
        bob.refuse_bad_room("no spaces here")
        bob.screenshot(tmp_path / "bob-bad-room-name.png")
        bob.join(ROOM)
        bob.wait_line("bob joined")
        alice.wait_line("bob joined")

        alice.say("hello from alice")
        bob.wait_line("alice: hello from alice")
        alice.wait_line("alice: hello from alice")

        bob.say("hi alice, bob here")
        alice.wait_line("bob: hi alice, bob here")
        bob.wait_line("bob: hi alice, bob here")
        alice.screenshot(tmp_path / "alice-before-reload.png")
        bob.screenshot(tmp_path / "bob-before-reload.png")

        # Bob reloads: a new page, a new socket, same session cookie.
        old_log = bob.find("#log")
        bob.driver.refresh()
        bob.wait(lambda d: _stale(old_log), "the reloaded page")
        bob.wait_connected()
        bob.wait_line("bob joined")
        alice.wait(lambda d: alice.lines().count("bob joined") == 2, "bob joining again")
        assert bob.lines() == ["bob joined"], "a reloaded page starts with an empty log"

        alice.say("welcome back, bob")
        bob.wait_line("alice: welcome back, bob")
        bob.say("still here")
        alice.wait_line("bob: still here")

        assert alice.lines() == [
            "alice joined",
            "bob joined",
            "alice: hello from alice",
            "bob: hi alice, bob here",
            "bob joined",
            "alice: welcome back, bob",
            "bob: still here",
        ]
        assert bob.lines() == ["bob joined", "alice: welcome back, bob", "bob: still here"]
        for window in windows:
            assert window.find("#status").text == "connected", window.name

        shots = [
            (f"{w.name} · {w.driver.current_url}", w.screenshot(tmp_path / f"{w.name}-final.png"))
            for w in windows
        ]
        for window in windows:
            window.console()
            (tmp_path / f"{window.name}-console.log").write_text(window.console_log)
            # Nothing went wrong in the pages, a missing favicon and the bad
            # room name (a 400, not a 500) aside.
            expected = ("/favicon.ico - ", "/?room=no+spaces+here - ")
            errors = [
                line
                for line in window.console_log.splitlines()
                if line.startswith("SEVERE") and not any(e in line for e in expected)
            ]
            assert not errors, f"{window.name}'s console:\n{window.console_log}"

        refused = (
            "/?room=no+spaces+here - Failed to load resource: the server responded "
            "with a status of 400"
        )
        assert refused in bob.console_log

        # Without its session cookie, the same page's socket is accepted and
        # then closed with 4001 -- the code room.html turns into "log in again".
        bob.driver.delete_cookie("sessionid")
        assert bob.socket_close_code(f"/chat/{ROOM}/") == 4001
        assert alice.lines()[-1] == "bob: still here", "no one joined as anonymous"

        final = _side_by_side(alice, shots, tmp_path / "chat-final.png")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        kept = ARTIFACTS / "chat-final.png"
        shutil.copyfile(final, kept)
        print(f"\nbrowser screenshots: {tmp_path}; final side by side: {kept}")
    finally:
        for window in windows:
            window.driver.quit()
    logs = demo.logs()
    assert "Traceback" not in logs, logs


def _stale(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    return False
