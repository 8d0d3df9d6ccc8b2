"""`tui-perf serve`: the dashboard through textual-serve, in a real headless Chromium; the
token when bound beyond loopback; websockets from other sites refused."""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, _free_port

pytest.importorskip("textual_serve")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][A-Z0-9]|[=>78])")


class Served:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "XDG_STATE_HOME": str(tmp / "state"),
            "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_RUNTIME_DIR": str(tmp / "run"),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui_perf", "serve", "--port", str(self.port), *args],
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.said = self.proc.stdout.readline()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # a real server: wait until it answers
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            time.sleep(0.05)
        raise AssertionError("the server did not start")

    def get(self, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse()

    def websocket_status(self, origin: str, cookie: str = "", host: str = "") -> int:
        headers = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Origin": origin,
        }
        if cookie:
            headers["Cookie"] = cookie
        if host:
            headers["Host"] = host
        return self.get("/ws?width=80&height=24", headers).status

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    yield server
    server.stop()


def test_loopback_serves_the_page_and_refuses_a_websocket_from_another_site(
    served: Served,
) -> None:
    assert f"http://127.0.0.1:{served.port}/" in served.said and "token" not in served.said
    assert served.get("/").status == 200
    assert served.websocket_status("http://evil.example") == 403
    # the page's own websocket is accepted (101: switching protocols), under either
    # loopback name, but not from another port on it
    assert served.websocket_status(f"http://127.0.0.1:{served.port}") == 101
    assert served.websocket_status(f"http://localhost:{served.port}") == 101
    assert served.websocket_status(f"http://localhost:{served.port + 1}") == 403
    # DNS rebinding: a site re-pointed at 127.0.0.1 is its own origin to the browser
    rebound = f"rebind.evil.example:{served.port}"
    assert served.get("/", {"Host": rebound}).status == 403
    assert served.websocket_status(f"http://{rebound}", host=rebound) == 403


def test_bound_beyond_loopback_nothing_is_served_without_the_token(tmp_path: Path) -> None:
    server = Served(tmp_path, "--host", "0.0.0.0", "--public-url", "http://127.0.0.1:1")
    try:
        found = re.search(r"\?token=([\w-]+)", server.said)
        assert found, server.said
        token = found.group(1)
        assert server.get("/").status == 403
        assert server.get("/?token=not-it").status == 403
        assert server.websocket_status(f"http://127.0.0.1:{server.port}") == 403
        page = server.get(f"/?token={token}")
        assert page.status == 200
        cookie = page.getheader("Set-Cookie", "")
        assert f"tui_perf_token={token}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = f"tui_perf_token={token}"
        assert server.get("/static/css/xterm.css", {"Cookie": jar}).status == 200
        assert server.websocket_status(f"http://127.0.0.1:{server.port}", jar) == 101
    finally:
        server.stop()


def test_a_bad_serve_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tui_perf.cli.main import main

    assert main(["serve", "bogus"]) == 2
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "cannot be served" in err[0] and "not a port" in err[1]


# Everything the page receives from its websocket, kept where the test can read it.
RECORD_WEBSOCKET = """
window.__tp = [];
const Native = window.WebSocket;
function Recorded(url, protocols) {
  const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") window.__tp.push(new Uint8Array(e.data));
  });
  return ws;
}
Recorded.prototype = Native.prototype;
for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Recorded[k] = Native[k];
window.WebSocket = Recorded;
"""
READ_SCREEN = """
const parts = window.__tp || [];
let n = 0; for (const p of parts) n += p.length;
const all = new Uint8Array(n); let at = 0;
for (const p of parts) { all.set(p, at); at += p.length; }
return new TextDecoder().decode(all);
"""


@pytest.mark.timeout(90)
def test_the_dashboard_in_a_real_browser(served: Served, tmp_path: Path) -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_WEBSOCKET}
        )
        driver.get(f"http://127.0.0.1:{served.port}/")

        def screen() -> str:
            return ANSI.sub("", driver.execute_script(READ_SCREEN))

        def wait_for(pattern: str, what: str) -> None:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if re.search(pattern, screen()):
                    return
                time.sleep(0.2)
            raise AssertionError(f"the page never showed {what}")

        wait_for(r"tui-perf", "the dashboard's title")
        wait_for(
            r"(NORMAL|ELEVATED|HIGH|CRITICAL) · RSS [\d.]+ [KMG]iB", "the Overview's tier line"
        )
        # a key press reaches the app: ? opens the help. Typed as a person does, into the
        # terminal once clicked: xterm's hidden helper textarea sits at the cursor, which
        # is nowhere visible while no widget has focus, so it cannot take keys directly.
        driver.find_element(By.ID, "terminal").click()
        ActionChains(driver).send_keys("?").perform()
        wait_for(r"emergency cleanup: every rung", "the help the ? key opens")
        shot = Path(os.environ.get("TUI_PERF_ARTIFACTS", tmp_path)) / "serve-in-chromium.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shot))
        ARTIFACTS.append(str(shot))
    finally:
        driver.quit()
