"""The dashboard in a browser, through textual-serve (the `web` extra).

textual-serve starts the command once per browser tab, under Textual's web driver, and
relays the screen over a websocket. It has no notion of who may connect; this adds two
guards, because the dashboard's keys act on a process (emergency cleanup, GC, flushes):

- bound to anything but loopback, every request needs the token printed at start: given
  once as `?token=` on the page's URL, then carried by a same-site, HTTP-only cookie;
- the websocket refuses a connection whose `Origin` is another site, so a page open in the
  same browser cannot drive the dashboard of a loopback server (cross-site websocket
  hijacking);
- served on loopback without a token, a request must name a loopback host (or the public
  URL's): a site whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is its own
  origin to the browser, and would pass the origin check.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from tui_perf.model.net import is_loopback

COOKIE = "tui_perf_token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


class GuardedServer(Server):
    """textual-serve's server with a token (when set) and an origin check."""

    def __init__(self, command: str, *, token: str | None, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.token = token
        #: without a token, the host names a request may be sent to
        self.hosts = {"localhost", "127.0.0.1", "::1", urlsplit(self.public_url).hostname or ""}

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
        if self.token is None:
            named = urlsplit(f"//{request.host}").hostname or ""
            if named not in self.hosts and not is_loopback(named):
                raise web.HTTPForbidden(text="tui-perf serve: not a name of this machine")
        if request.path == "/ws":
            origin = request.headers.get("Origin", "")
            if origin and not same_origin(origin, request.host):
                raise web.HTTPForbidden(text="tui-perf serve: a page of another site")
        if self.token is None:
            return await handler(request)
        given = request.query.get("token") or request.cookies.get(COOKIE, "")
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(
                text="tui-perf serve: open the URL printed at start (it holds ?token=)"
            )
        response = await handler(request)
        if "token" in request.query and not response.prepared:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response
