"""The agent: an engine in the user's process, served to dashboards over a socket.

The host's promise: the agent never raises into it and never slows it noticeably.

- Threads only (no event loop in the host). Each thread catches, logs (quietly, through
  `logging`) and carries on.
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
  of those, so a flood cannot lock a legitimate client out), each with two threads; a
  listen backlog of 128; a peer silent for `hello_timeout` is dropped.
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import logging
import os
import secrets
import socket
import stat
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from tui_perf import capabilities
from tui_perf.agent.protocol import (
    MAX_FRAME,
    VERSION,
    ProtocolError,
    decode,
    encode,
    parse_command,
    parse_hello,
)
from tui_perf.caches import sigterm
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError, TuiPerfError
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


class _Client:
    """One connected dashboard: a reader and a writer thread."""

    def __init__(self, agent: Agent, sock: socket.socket, needs_token: bool) -> None:
        self.agent = agent
        self.sock = sock
        self.needs_token = needs_token
        self.ready = False
        self._slot: bytes | None = None  # the newest snapshot frame not yet sent
        self._slot_notable = False  # it carries events or cleanups: must not be overwritten
        self._notable: deque[bytes] = deque(maxlen=16)  # such frames a newer one displaced
        self._replies: deque[bytes] = deque(maxlen=64)
        self._cond = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self.sent = 0
        sock.settimeout(agent.send_timeout)

    def start(self) -> None:
        self._threads = [
            threading.Thread(
                target=self._guard(self._read), name="tui-perf-agent-read", daemon=True
            ),
            threading.Thread(
                target=self._guard(self._write), name="tui-perf-agent-write", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for both threads to end (after `close`)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _guard(self, fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except Exception:
                log.debug("agent client thread ended", exc_info=True)
            finally:
                self.close()

        return run

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Frames waiting for this client (bounded: a slot and a short reply queue)."""
        return (self._slot is not None) + len(self._notable) + len(self._replies)

    def offer(self, frame: bytes, notable: bool = False) -> None:
        """A new snapshot: replaces one not yet sent, unless that one was `notable` (it
        carries events or cleanup reports), which is kept to be sent first. Never blocks."""
        if self.ready:
            with self._cond:
                if self._slot is not None and self._slot_notable:
                    self._notable.append(self._slot)
                self._slot, self._slot_notable = frame, notable
                self._cond.notify()

    def reply(self, message: dict[str, Any]) -> None:
        with self._cond:
            self._replies.append(encode(message))
            self._cond.notify()

    def _write(self) -> None:
        # Before authentication: the version and whether a token is needed, nothing more.
        self.sock.sendall(encode({"type": "hello", "version": VERSION, "auth": self.needs_token}))
        while not self._closed:
            with self._cond:
                while (
                    not self.closed
                    and self._slot is None
                    and not self._replies
                    and not self._notable
                ):
                    self._cond.wait(1.0)
                if self.closed:
                    return
                frame: bytes | None
                if self._replies:  # replies first: a person is waiting on them
                    frame = self._replies.popleft()
                elif self._notable:  # older than the slot's frame: in order
                    frame = self._notable.popleft()
                else:
                    frame, self._slot = self._slot, None
            if frame is not None:
                self.sock.sendall(frame)  # a stuck reader: timeout, then closed
                self.sent += 1

    def _read(self) -> None:
        buffer = b""
        self.sock.settimeout(self.agent.hello_timeout)
        while not self._closed:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                if not self.ready:
                    self._fail("no hello within the time allowed")
                    return
                continue
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not self._handle(line):
                    return
            if len(buffer) > MAX_FRAME:
                self._fail(f"frame over the {MAX_FRAME}-byte limit")
                return

    def _handle(self, line: bytes) -> bool:
        """Handle one frame; False closes the connection."""
        if not line.strip():
            return True
        try:
            message = decode(line)
            if not self.ready:
                token = parse_hello(message)
                expected = self.agent.token
                if self.needs_token and (
                    token is None
                    or expected is None
                    or not hmac.compare_digest(token.encode(), expected.encode())
                ):
                    self._fail("wrong or missing token")
                    return False
                self.ready = True
                self.reply({"type": "welcome", "pid": os.getpid(), "argv": sys.argv[:8]})
                # One timeout for both threads: it bounds the writer's sendall (a client that
                # stops reading is dropped); the reader just reads again when it expires.
                self.sock.settimeout(self.agent.send_timeout)
                latest = self.agent.engine.snapshot()
                if latest is not None:
                    self.offer(encode({"type": "snapshot", "data": latest.to_dict()}))
                return True
            command = parse_command(message)
        except ProtocolError as exc:
            if not self.ready:
                self._fail(str(exc))
                return False
            self.reply({"type": "error", "error": str(exc)})
            return True
        try:
            result = self.agent.engine.command(command.name, **command.args)
            self.reply({"type": "reply", "id": command.id, "ok": True, "result": result})
        except TuiPerfError as exc:
            self.reply({"type": "reply", "id": command.id, "ok": False, "error": str(exc)})
        except Exception as exc:  # the host's trouble stays in the host's log
            log.warning("agent command %s failed", command.name, exc_info=True)
            self.reply(
                {
                    "type": "reply",
                    "id": command.id,
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
        return True

    def _fail(self, error: str) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(encode({"type": "error", "error": error}))
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.agent._forget(self)


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
        self.clients: list[_Client] = []
        self._lock = threading.Lock()
        self._listeners: list[tuple[socket.socket, bool]] = []
        self._unsubscribe: Any = None
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

    def start(self) -> Agent:
        capabilities.attach(self.engine)
        for listener, needs_token in self._listeners:
            threading.Thread(
                target=self._accept,
                args=(listener, needs_token),
                name="tui-perf-agent-accept",
                daemon=True,
            ).start()
        self._unsubscribe = self.engine.subscribe(self._on_snapshot)
        self.engine.start()
        atexit.register(_stop_at_exit, weakref.ref(self))
        # SIGTERM's default action skips atexit: the one SIGTERM handler the library keeps
        # (caches/sigterm.py, which chains to the program's) stops us too, socket and all.
        self._on_sigterm = _StopOnSigterm(self)
        sigterm.watch(self._on_sigterm)
        return self

    def _accept(self, listener: socket.socket, needs_token: bool) -> None:
        while not self._stopped:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                evict: _Client | None = None
                with self._lock:
                    waiting = [c for c in self.clients if not c.ready]
                    if len(waiting) >= self.max_unauthenticated:
                        evict = waiting[0]  # the oldest silent peer makes room
                    elif len(self.clients) >= self.max_clients:
                        self.refused += 1
                        sock.close()
                        continue
                if evict is not None:
                    self.refused += 1
                    evict.close()
                    # Its threads gone before the newcomer's start: on a busy CPU they had
                    # not had a turn to end, and a flood piled up 100 of them over the cap.
                    evict.join(1.0)
                client = _Client(self, sock, needs_token)
                with self._lock:
                    self.clients.append(client)
                client.start()
            except Exception:
                log.warning("agent: could not serve a connection", exc_info=True)
                with contextlib.suppress(OSError):
                    sock.close()

    def _on_snapshot(self, snap: Snapshot) -> None:
        # On the engine's thread: encode once, hand the frame to every client, never block.
        with self._lock:
            clients = list(self.clients)
        if not clients:
            return
        frame = encode({"type": "snapshot", "data": snap.to_dict()})
        notable = bool(snap.events or snap.cleanups)
        for client in clients:
            client.offer(frame, notable)

    def _forget(self, client: _Client) -> None:
        with self._lock:
            if client in self.clients:
                self.clients.remove(client)

    def stop(self) -> None:
        """Close the listeners and connections, remove the socket, stop the engine."""
        if self._stopped:
            return
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        for listener, _ in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()
        for client in list(self.clients):
            client.close()
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
