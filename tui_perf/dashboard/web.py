"""The dashboard in a browser, through textual-serve (the `web` extra).

textual-serve starts the command once per browser tab, under Textual's web driver, and
relays the screen over a websocket. It has no notion of who may connect; the dashboard's
keys act on a process (emergency cleanup, GC, benchmarks, with `serve run` a fresh copy of
the program), so this adds the guards, as Jupyter's server does:

- every request needs the token printed at start, on loopback too (another user of the
  machine reaches 127.0.0.1 as well): given once as `?token=` on the page's URL, then
  carried by an HTTP-only, same-site cookie, `Secure` when the public URL is https. A
  request without it is refused before anything starts;
- the websocket refuses a connection whose `Origin` is another site, so a page open in the
  same browser cannot drive the dashboard (cross-site websocket hijacking);
- bound to loopback, a request must name a loopback host (or the public URL's): a site
  whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is its own origin;
- at most `max_tabs` tabs (each a process) at once; past it, a page that says so;
- the page loads nothing from another site (`templates/app_index.html`: the font is
  textual-serve's own copy), and every answer carries `Referrer-Policy: no-referrer` and
  a Content-Security-Policy allowing only this origin and the page's websocket.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from tui_perf.model.net import is_loopback

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TEMPLATES = Path(__file__).parent / "templates"
#: tabs at once unless `--max-tabs` says otherwise: each is a process acting on the target
DEFAULT_MAX_TABS = 4
#: what every answer carries; the page's own policy is `page_policy`
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
TABS_FULL = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tui-perf: all tabs in use</title></head>
<body style="background:#0c181f;color:#eee;font-family:monospace;padding:2em">
<h1>tui-perf: {n} of {n} tabs are open</h1>
<p>Each browser tab runs its own dashboard process, and this server allows {n} at once
(<code>tui-perf serve --max-tabs N</code>). Close another tab of it, then reload this one.</p>
</body></html>
"""


def cookie_name(port: int) -> str:
    """Cookies do not keep ports apart: two servers on one host each keep their own."""
    return f"tui_perf_token_{port}"


def same_origin(origin: str, host: str) -> bool:
    """Whether the browser's `Origin` header names the host the request was sent to; on
    loopback, `localhost` and `127.0.0.1` with the same port are one origin for this (the
    page may be opened under either name, its websocket URL uses the other)."""
    if not origin:
        return False
    theirs, ours = urlsplit(origin), urlsplit(f"//{host}")
    if theirs.netloc.lower() == host.lower():
        return True
    try:
        same_port = theirs.port == ours.port and theirs.port is not None
    except ValueError:  # a port that is not a number
        return False
    return same_port and is_loopback(theirs.hostname or "") and is_loopback(ours.hostname or "")


def websocket_url(public_url: str) -> str:
    """Where the page opens its websocket: the public URL's `/ws`, ws or wss alike."""
    scheme, rest = public_url.split(":", 1)
    return ("wss:" if scheme == "https" else "ws:") + rest + "/ws"


def page_policy(nonce: str, public_url: str) -> str:
    """The page's Content-Security-Policy: scripts only from here and with the nonce (no
    inline handlers), connections only here and to the websocket. Styles allow inline
    ones: xterm.js and textual.js add `<style>` elements as they draw, without a nonce."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws = urlsplit(websocket_url(public_url))
    return (
        f"default-src 'none'; script-src 'self' {origin} 'nonce-{nonce}'; "
        f"style-src 'self' {origin} 'unsafe-inline'; img-src 'self' {origin} data:; "
        f"font-src 'self' {origin}; connect-src 'self' {origin} {ws.scheme}://{ws.netloc}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class GuardedServer(Server):
    """textual-serve's server with the token, the origin and host checks, the tab cap and
    the page's headers."""

    def __init__(
        self,
        command: str,
        *,
        token: str,
        max_tabs: int = DEFAULT_MAX_TABS,
        **kwargs: Any,
    ) -> None:
        super().__init__(command, templates_path=TEMPLATES, **kwargs)
        self.token = token
        self.max_tabs = max_tabs
        #: tabs whose process runs now (changed only on the event loop, so no lock)
        self.tabs = 0
        self.cookie = cookie_name(self.port)
        self.secure = self.public_url.startswith("https:")
        #: bound to loopback, the host names a request may be sent to
        self.hosts = {"localhost", "127.0.0.1", "::1", urlsplit(self.public_url).hostname or ""}
        self.check_host = is_loopback(self.host)

    def initialize_logging(self) -> None:
        """textual-serve logs every tab at INFO through rich; the start line says enough."""

    async def on_startup(self, app: web.Application) -> None:
        """The command line prints where to go, with the token."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.check_host:
            named = urlsplit(f"//{request.host}").hostname or ""
            if named not in self.hosts and not is_loopback(named):
                raise web.HTTPForbidden(text="tui-perf serve: not a name of this machine")
        if request.path == "/ws":
            origin = request.headers.get("Origin", "")
            if origin and not same_origin(origin, request.host):
                raise web.HTTPForbidden(text="tui-perf serve: a page of another site")
        given = request.query.get("token") or request.cookies.get(self.cookie, "")
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(
                text="tui-perf serve: open the URL printed at start (it holds ?token=)",
                headers=HEADERS,
            )
        response = await handler(request)
        if response.prepared:  # the websocket: its headers are gone
            return response
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if "token" in request.query:
            response.set_cookie(
                self.cookie, self.token, httponly=True, samesite="Strict", secure=self.secure
            )
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, from our template, with a fresh nonce for its scripts; or, with every
        tab in use, a page that says so (the websocket refuses too, for a page already
        open)."""
        if self.tabs >= self.max_tabs:
            return web.Response(
                status=503, text=TABS_FULL.format(n=self.max_tabs), content_type="text/html"
            )
        nonce = secrets.token_urlsafe(16)
        context = {
            "title": self.title,
            "nonce": nonce,
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "static_url": f"{self.public_url}/static/",
            "app_websocket_url": websocket_url(self.public_url),
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers["Content-Security-Policy"] = page_policy(nonce, self.public_url)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its process runs while its websocket is open, and no more than
        `max_tabs` at once (counted before the process starts, on the event loop)."""
        if self.tabs >= self.max_tabs:
            raise web.HTTPServiceUnavailable(
                text=f"tui-perf serve: all {self.max_tabs} tabs are in use (--max-tabs)"
            )
        self.tabs += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self.tabs -= 1
