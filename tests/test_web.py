"""`tui-perf serve`: the dashboard through textual-serve, in a real headless Chromium; the
token everywhere, loopback too (another OS user is refused and starts nothing); websockets
from other sites refused; the tab cap; the page's headers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import ARTIFACTS, ROOT, _free_port
from tests.helpers.processes import end

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
        found = re.search(r"\?token=([\w-]+)", self.said)
        assert found, self.said
        self.token = found.group(1)
        self.jar = f"tui_perf_token_{self.port}={self.token}"
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
        response = self.open_tab(origin, cookie, host)[1]
        return response.status

    def open_tab(
        self, origin: str, cookie: str = "", host: str = ""
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """A websocket handshake, its connection kept open (a tab) until closed."""
        headers = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        }
        if origin:
            headers["Origin"] = origin
        if cookie:
            headers["Cookie"] = cookie
        if host:
            headers["Host"] = host
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/ws?width=80&height=24", headers=headers)
        return conn, conn.getresponse()

    def processes(self) -> int:
        """The processes this server started and that still run (each tab's shell)."""
        return len(psutil.Process(self.proc.pid).children())

    def wait_processes(self, n: int) -> int:
        deadline = time.monotonic() + 20
        while self.processes() != n and time.monotonic() < deadline:
            time.sleep(0.05)  # a real process starting or ending, not a sampler
        return self.processes()

    def stop(self) -> None:
        end(self.proc)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    yield server
    server.stop()


def test_loopback_needs_the_token_and_refuses_a_websocket_from_another_site(
    served: Served,
) -> None:
    assert f"http://127.0.0.1:{served.port}/?token=" in served.said
    # without the token: nothing, and no process started
    assert served.get("/").status == 403
    assert served.get("/?token=not-it").status == 403
    assert served.get("/static/js/textual.js").status == 403
    assert served.websocket_status(f"http://127.0.0.1:{served.port}") == 403
    assert served.websocket_status("") == 403
    assert served.processes() == 0
    page = served.get(f"/?token={served.token}")
    assert page.status == 200
    cookie = page.getheader("Set-Cookie", "")
    assert served.jar in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert served.websocket_status("http://evil.example", served.jar) == 403
    # the page's own websocket is accepted (101: switching protocols), under either
    # loopback name, but not from another port on it
    assert served.websocket_status(f"http://127.0.0.1:{served.port}", served.jar) == 101
    assert served.websocket_status(f"http://localhost:{served.port}", served.jar) == 101
    assert served.websocket_status(f"http://localhost:{served.port + 1}", served.jar) == 403
    # DNS rebinding: a site re-pointed at 127.0.0.1 is its own origin to the browser
    rebound = f"rebind.evil.example:{served.port}"
    assert served.get("/", {"Host": rebound, "Cookie": served.jar}).status == 403
    assert served.websocket_status(f"http://{rebound}", served.jar, host=rebound) == 403


def test_the_page_loads_nothing_from_another_site_and_says_so(served: Served) -> None:
    page = served.get("/", {"Cookie": served.jar})
    assert page.status == 200
    body = page.read().decode()
    assert page.getheader("Referrer-Policy") == "no-referrer"
    policy = page.getheader("Content-Security-Policy", "")
    nonce = re.search(r"'nonce-([\w-]+)'", policy)
    assert nonce, policy
    origin = f"http://127.0.0.1:{served.port}"
    assert f"connect-src 'self' {origin} ws://127.0.0.1:{served.port};" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    # every source the page names is this server's; every script carries the nonce
    for url in re.findall(r"""(?:src|href|url)\s*[=(]\s*["']([^"']+)""", body):
        assert url.startswith(f"{origin}/static/") or url == f"ws://127.0.0.1:{served.port}/ws"
    assert "googleapis" not in body and "onClick" not in body
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts)
    static = served.get("/static/css/xterm.css", {"Cookie": served.jar})
    assert static.status == 200 and static.getheader("Referrer-Policy") == "no-referrer"
    refused = served.get("/")
    assert refused.status == 403 and refused.getheader("Referrer-Policy") == "no-referrer"


def test_over_https_the_cookie_is_secure(tmp_path: Path) -> None:
    server = Served(tmp_path, "--public-url", "https://127.0.0.1:1")
    try:
        cookie = server.get(f"/?token={server.token}").getheader("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie
        policy = server.get("/", {"Cookie": server.jar}).getheader("Content-Security-Policy")
        assert "wss://127.0.0.1:1" in (policy or "")
    finally:
        server.stop()


@pytest.mark.timeout(90)
def test_the_tab_cap_holds_and_says_so(tmp_path: Path) -> None:
    server = Served(tmp_path, "--max-tabs", "2")
    origin = f"http://127.0.0.1:{server.port}"
    tabs = []
    try:
        for _ in range(2):
            conn, response = server.open_tab(origin, server.jar)
            assert response.status == 101
            tabs.append(conn)
        assert server.wait_processes(2) == 2
        # the third tab: a page that says why, and its websocket starts nothing
        full = server.get("/", {"Cookie": server.jar})
        assert full.status == 503 and "2 of 2 tabs are open" in full.read().decode()
        assert server.websocket_status(origin, server.jar) == 503
        assert server.processes() == 2
        tabs.pop().close()  # a tab closed: its process ends and a new tab may open
        assert server.wait_processes(1) == 1
        assert server.get("/", {"Cookie": server.jar}).status == 200
    finally:
        for conn in tabs:
            conn.close()
        server.stop()


# Run as another OS user: the stranger does not have the token (it is printed to the
# owner's terminal), and tries what issue 30 reproduced: the page, and websockets with
# and without an Origin header.
STRANGER = """
import base64, http.client, json, os, sys
port = int(sys.argv[1])
def ask(path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    return conn.getresponse().status
ws = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
print(json.dumps({
    "uid": os.getuid(),
    "page": ask("/", {}),
    "ws": [ask("/ws?width=80&height=24", ws) for _ in range(5)],
    "ws_origin": ask("/ws", {**ws, "Origin": f"http://127.0.0.1:{port}"}),
    "guess": ask("/?token=guess", {}),
}))
"""


def test_another_os_user_is_refused_and_starts_nothing(served: Served) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second OS user (nobody); run as root in CI")
    stranger = pwd.getpwnam("nobody")
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

    def become_nobody() -> None:
        os.setgroups([])
        os.setgid(stranger.pw_gid)
        os.setuid(stranger.pw_uid)

    done = subprocess.run(
        [python, "-I", "-c", STRANGER, str(served.port)],
        preexec_fn=become_nobody,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["uid"] == stranger.pw_uid != os.getuid()
    assert said == {**said, "page": 403, "ws": [403] * 5, "ws_origin": 403, "guess": 403}
    assert served.processes() == 0


def test_bound_beyond_loopback_nothing_is_served_without_the_token(tmp_path: Path) -> None:
    server = Served(tmp_path, "--host", "0.0.0.0", "--public-url", "http://127.0.0.1:1")
    try:
        token = server.token
        assert server.get("/").status == 403
        assert server.get("/?token=not-it").status == 403
        assert server.websocket_status(f"http://127.0.0.1:{server.port}") == 403
        page = server.get(f"/?token={token}")
        assert page.status == 200
        cookie = page.getheader("Set-Cookie", "")
        assert server.jar in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert server.get("/static/css/xterm.css", {"Cookie": server.jar}).status == 200
        assert server.websocket_status(f"http://127.0.0.1:{server.port}", server.jar) == 101
    finally:
        server.stop()


def test_a_bad_serve_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tui_perf.cli.main import main

    assert main(["serve", "bogus"]) == 2
    assert main(["serve", "--port", "0"]) == 2
    assert main(["serve", "--max-tabs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "cannot be served" in err[0] and "not a port" in err[1]
    assert "--max-tabs 0" in err[2]


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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
        driver.get(f"http://127.0.0.1:{served.port}/?token={served.token}")

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
        # logged in by the cookie, the token gone from the address bar (and the history)
        assert "token" not in driver.current_url
        assert served.processes() == 1
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
        # the Content-Security-Policy blocked nothing the page needs
        blocked = [e["message"] for e in driver.get_log("browser") if "Security" in e["message"]]
        assert not blocked, blocked
    finally:
        driver.quit()
