"""The agent: an engine in the user's process, served to dashboards over a socket.

The host's promise: the agent never raises into it and never slows it noticeably.

- Two daemon threads whatever peers do (`serve_loop.py`): one selector loop serves the Unix
  socket, the TCP port and every connection without blocking; one worker runs commands.
  No asyncio in the host. Each catches, logs (quietly, through `logging`) and carries on.
- A client's snapshots go through a one-frame slot, latest wins, except that a snapshot
  carrying events or cleanup reports is never overwritten unsent: it waits in a short
  queue (16 frames) and goes first, so a slow client loses no report; its replies go
  through a bounded queue. A client that never reads costs the host one frame, not a growing buffer;
  a client whose socket stays full is dropped after `send_timeout`.
- Unix sockets live in a per-user runtime directory of mode 0700, the socket itself 0600.
  TCP needs a token (one is generated if none is given), compared in constant time, and
  binds a non-loopback address only when asked to explicitly.
- Nothing before authentication: the first frame says only the protocol version and whether
  a token is needed; the host's pid and argv (which often hold secrets) come in a `welcome`
  frame after the peer's hello is accepted.
- The host's cost is bounded whatever a peer opens: at most `max_clients` connections, of
  which at most `max_unauthenticated` have not said hello yet (a new one evicts the oldest
  of those, so a flood cannot lock a legitimate client out, its fd closed at once), no
  thread each; a listen backlog of 128; a peer that has not completed its hello within
  `hello_timeout` is dropped, whatever bytes it sent.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import weakref
from pathlib import Path
from typing import Any

from tui_perf import capabilities
from tui_perf.agent.connection import Connection
from tui_perf.agent.protocol import encode
from tui_perf.agent.serve_loop import ServeLoop
from tui_perf.caches import sigterm
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError
from tui_perf.model.net import is_loopback
from tui_perf.model.snapshot import Snapshot

log = logging.getLogger("tui_perf.agent")


def runtime_dir() -> Path:
    """`$XDG_RUNTIME_DIR/tui-perf`, else `<tmp>/tui-perf-<uid>`; created 0700, checked ours."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        path = Path(base) / "tui-perf"
    else:
        path = Path(tempfile.gettempdir()) / f"tui-perf-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigError(f"{path} is not a directory of this user's; refusing to use it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def socket_path_for(pid: int) -> Path:
    return runtime_dir() / f"agent-{pid}.sock"


BACKLOG = 128


class Agent:
    """Serves one engine's snapshots and commands. Create with `tui_perf.agent.start()`."""

    def __init__(
        self,
        engine: Engine,
        *,
        socket_path: str | Path | None = None,
        tcp: tuple[str, int] | None = None,
        token: str | None = None,
        allow_remote: bool = False,
        send_timeout: float = 5.0,
        hello_timeout: float = 5.0,
        max_clients: int = 32,
        max_unauthenticated: int = 8,
    ) -> None:
        if max_clients < 1 or not 1 <= max_unauthenticated <= max_clients:
            raise ConfigError("need max_clients >= 1 and 1 <= max_unauthenticated <= max_clients")
        self.max_clients = max_clients
        self.max_unauthenticated = max_unauthenticated
        self.refused = 0  # connections closed at once: over the caps
        self.engine = engine
        self.send_timeout = send_timeout
        self.hello_timeout = hello_timeout
        self.token = token
        self._listeners: list[tuple[socket.socket, bool]] = []
        self._unsubscribe: Any = None
        self._loop: ServeLoop | None = None
        self._stopped = False
        self.socket_path: Path | None = None
        self.tcp_address: tuple[str, int] | None = None
        if tcp is not None:
            host, port = tcp
            if not is_loopback(host) and not allow_remote:
                raise ConfigError(
                    f"TCP on {host} is not loopback: pass allow_remote=True "
                    "(and keep the token secret) to serve other hosts"
                )
            if self.token is None:
                self.token = secrets.token_urlsafe(24)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(BACKLOG)
            self.tcp_address = listener.getsockname()[:2]
            self._listeners.append((listener, True))
        if tcp is None or socket_path is not None:
            path = Path(socket_path) if socket_path is not None else socket_path_for(os.getpid())
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a socket left by a crashed process with our pid
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)  # the socket is born 0600: no window where others connect
            try:
                listener.bind(str(path))
            finally:
                os.umask(old)
            path.chmod(0o600)
            listener.listen(BACKLOG)
            self.socket_path = path
            self._listeners.append((listener, False))

    @property
    def address(self) -> str:
        if self.socket_path is not None:
            return str(self.socket_path)
        assert self.tcp_address is not None
        return f"{self.tcp_address[0]}:{self.tcp_address[1]}"

    @property
    def clients(self) -> list[Connection]:
        """The connections served now, the oldest first (a copy)."""
        return list(self._loop.clients) if self._loop is not None else []

    def start(self) -> Agent:
        capabilities.attach(self.engine)
        self._loop = ServeLoop(self, self._listeners)
        self._loop.start()
        self._unsubscribe = self.engine.subscribe(self._on_snapshot)
        self.engine.start()
        atexit.register(_stop_at_exit, weakref.ref(self))
        # SIGTERM's default action skips atexit: the one SIGTERM handler the library keeps
        # (caches/sigterm.py, which chains to the program's) stops us too, socket and all.
        self._on_sigterm = _StopOnSigterm(self)
        sigterm.watch(self._on_sigterm)
        return self

    @staticmethod
    def snapshot_frame(snap: Snapshot) -> bytes:
        return encode({"type": "snapshot", "data": snap.to_dict()})

    def _on_snapshot(self, snap: Snapshot) -> None:
        # On the engine's thread: encode once, hand the frame to every client, never block.
        clients = [c for c in self.clients if c.ready]
        if not clients or self._loop is None:
            return
        frame = self.snapshot_frame(snap)
        notable = bool(snap.events or snap.cleanups)
        for client in clients:
            client.offer(frame, notable)
        self._loop.wake()

    def stop(self) -> None:
        """Close the listeners and connections, remove the socket, stop the engine."""
        if self._stopped:
            return
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._loop is not None:
            self._loop.stop()  # its thread closes every connection on its way out
        for listener, _ in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()
        if self.socket_path is not None:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
        self.engine.stop()


class _StopOnSigterm:
    """What SIGTERM's handler does for one agent (`sigterm.watch` wants `write_now`)."""

    def __init__(self, agent: Agent) -> None:
        self._agent = weakref.ref(agent)

    def write_now(self, timeout: float) -> None:
        agent = self._agent()
        if agent is not None:
            agent.stop()


def _stop_at_exit(ref: weakref.ref[Agent]) -> None:
    agent = ref()
    if agent is not None:
        try:
            agent.stop()
        except Exception:
            log.debug("agent stop at exit failed", exc_info=True)
