"""The agent's connections, served from one selector loop on one daemon thread.

Whatever peers do, the host pays this loop's thread, the command worker's thread, the
listeners, the selector, a wake-up socket pair and at most `max_clients` sockets. The
approach is `metrics_server.py`'s (non-blocking sockets, deadlines checked each turn, a
wake at least every 0.25 s), with what a long-lived, two-way connection adds:

- A peer has `hello_timeout` from its accept to a good hello, whatever it sends meanwhile
  (a blank line every few seconds used to keep it alive).
- Writes never block: a client's frames wait in its bounded queues (`connection.py`), and a
  client whose socket takes nothing for `send_timeout` is dropped.
- Commands (a benchmark, a profile, a tune step can take seconds) run on the command
  worker, one at a time in order of arrival, never on the loop; their replies are posted
  back and the loop writes them. A client has at most 8 in flight; the worker's queue 64.
- Evicted and timed-out peers are closed on the loop's thread at once: their fd is freed
  before the next turn.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import queue
import selectors
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from tui_perf.agent.connection import Connection
from tui_perf.agent.protocol import Command, ProtocolError, decode, parse_command, parse_hello
from tui_perf.engine.core import Engine
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import Snapshot

log = logging.getLogger("tui_perf.agent")

# After a busy turn the loop pauses this long, so that under a flood of connections it takes
# them in batches (a turn's fixed cost, and a GIL hand-over from the host's threads, once a
# batch, not once a peer). A snapshot or a reply is late by at most this much.
BUSY_TURN_PAUSE = 0.002
MAX_IN_FLIGHT = 8  # commands one client may have queued or running
WORKER_QUEUE = 64
_WAKER = object()


class Agent(Protocol):
    """What the loop reads of the agent it serves (`server.Agent`; this module cannot
    import that one, which imports this)."""

    engine: Engine
    token: str | None
    send_timeout: float
    hello_timeout: float
    max_clients: int
    max_unauthenticated: int
    refused: int

    def snapshot_frame(self, snap: Snapshot) -> bytes: ...


def run_command(agent: Agent, command: Command) -> dict[str, Any]:
    """The reply to one command; the host's own trouble stays in the host's log."""
    try:
        result = agent.engine.command(command.name, **command.args)
        return {"type": "reply", "id": command.id, "ok": True, "result": result}
    except TuiPerfError as exc:
        return {"type": "reply", "id": command.id, "ok": False, "error": str(exc)}
    except Exception as exc:
        log.warning("agent command %s failed", command.name, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
        return {"type": "reply", "id": command.id, "ok": False, "error": error}


class CommandWorker:
    """One daemon thread running commands in order; replies go to `done` (any thread)."""

    def __init__(
        self,
        run: Callable[[Command], dict[str, Any]],
        done: Callable[[Connection, dict[str, Any]], None],
    ) -> None:
        self._run_one, self._done = run, done
        self._queue: queue.Queue[tuple[Connection, Command] | None] = queue.Queue(WORKER_QUEUE)
        self.thread = threading.Thread(
            target=self._run, name="tui-perf-agent-commands", daemon=True
        )

    def submit(self, conn: Connection, command: Command) -> bool:
        try:
            self._queue.put_nowait((conn, command))
        except queue.Full:
            return False
        return True

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            conn, command = item
            try:
                reply = self._run_one(command)
            except Exception as exc:  # never end the worker: the next command must run
                reply = {"type": "reply", "id": command.id, "ok": False, "error": repr(exc)}
            self._done(conn, reply)


class ServeLoop:
    """Accepts, reads, writes and times out every agent connection on one thread."""

    def __init__(
        self,
        agent: Agent,
        listeners: list[tuple[socket.socket, bool]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self.clock = clock
        self.clients: list[Connection] = []  # in order of acceptance: the oldest first
        self._masks: dict[Connection, int] = {}
        self.selector = selectors.DefaultSelector()
        for listener, needs_token in listeners:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, needs_token)
        self._wake_r, self._wake_w = socket.socketpair()
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, _WAKER)
        self._posted: deque[tuple[Connection, dict[str, Any]]] = deque()
        self._stopping = False
        self.worker = CommandWorker(lambda command: run_command(agent, command), self.post)
        self.thread = threading.Thread(target=self._run, name="tui-perf-agent", daemon=True)

    def start(self) -> None:
        self.worker.thread.start()
        self.thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)
        self.worker.stop()

    def wake(self) -> None:
        """From any thread: new frames are waiting (or stop); the loop looks at once."""
        with contextlib.suppress(OSError):  # full (a wake is pending anyway) or closed
            self._wake_w.send(b"\0")

    def post(self, conn: Connection, reply: dict[str, Any]) -> None:
        """From the command worker: a reply for `conn`, handed over on the loop's thread."""
        self._posted.append((conn, reply))
        self.wake()

    def _run(self) -> None:
        try:
            while not self._stopping:
                ready = self.selector.select(self._wait())
                for key, events in ready:
                    if key.data is _WAKER:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                        self._take_posted()
                        self._flush_all()
                    elif isinstance(key.data, bool):
                        self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                    else:
                        self._serve(key.data, events)
                self._expire()
                if ready:
                    time.sleep(BUSY_TURN_PAUSE)
        except Exception:  # never raise into the host: log and stop serving
            log.exception("tui-perf agent server stopped")
        finally:
            for conn in list(self.clients):
                self._close(conn)
            self.selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _wait(self) -> float:
        """Until the nearest deadline, and at most 0.25 s so that `stop()` is seen."""
        wait = 0.25
        now = self.clock()
        for conn in self.clients:
            if not conn.ready:
                wait = min(wait, conn.accepted_at + self.agent.hello_timeout - now)
            if conn.stalled_since is not None:
                wait = min(wait, conn.stalled_since + self.agent.send_timeout - now)
        return max(0.0, wait)

    def _accept(self, listener: socket.socket, needs_token: bool) -> None:
        for _ in range(64):  # a flood takes turns with the clients already here
            try:
                sock, _ = listener.accept()
            except OSError:  # nothing waiting, out of fds, an aborted handshake
                return
            waiting = [c for c in self.clients if not c.ready]
            if len(waiting) >= self.agent.max_unauthenticated:
                self.agent.refused += 1
                self._close(waiting[0])  # the oldest silent peer makes room, its fd freed now
            elif len(self.clients) >= self.agent.max_clients:
                self.agent.refused += 1
                sock.close()
                continue
            conn = Connection(sock, needs_token, self.clock())
            self.clients.append(conn)
            self._masks[conn] = selectors.EVENT_READ
            self.selector.register(sock, selectors.EVENT_READ, conn)
            self._flush(conn)  # the server's hello

    def _serve(self, conn: Connection, events: int) -> None:
        try:
            if events & selectors.EVENT_READ:
                self._read(conn)
            if events & selectors.EVENT_WRITE and not conn.closed:
                self._flush(conn)
        except OSError:
            self._close(conn)

    def _read(self, conn: Connection) -> None:
        try:
            lines = conn.read_lines()
        except ProtocolError as exc:
            self._fail(conn, str(exc))
            return
        if lines is None:
            self._close(conn)
            return
        for line in lines:
            if conn.closed or not self._handle(conn, line):
                return
        self._flush(conn)

    def _handle(self, conn: Connection, line: bytes) -> bool:
        """One frame; False when it closed the connection."""
        try:
            message = decode(line)
            if not conn.ready:
                return self._hello(conn, message)
            command = parse_command(message)
        except ProtocolError as exc:
            if not conn.ready:
                self._fail(conn, str(exc))
                return False
            conn.reply({"type": "error", "error": str(exc)})
            return True
        if conn.commands_in_flight >= MAX_IN_FLIGHT or not self.worker.submit(conn, command):
            busy = f"the agent is busy: at most {MAX_IN_FLIGHT} commands in flight"
            conn.reply({"type": "reply", "id": command.id, "ok": False, "error": busy})
        else:
            conn.commands_in_flight += 1
        return True

    def _hello(self, conn: Connection, message: dict[str, Any]) -> bool:
        token = parse_hello(message)
        expected = self.agent.token
        if conn.needs_token and (
            token is None
            or expected is None
            or not hmac.compare_digest(token.encode(), expected.encode())
        ):
            self._fail(conn, "wrong or missing token")
            return False
        conn.ready = True
        conn.reply({"type": "welcome", "pid": os.getpid(), "argv": sys.argv[:8]})
        latest = self.agent.engine.snapshot()
        if latest is not None:
            conn.offer(self.agent.snapshot_frame(latest))
        return True

    def _take_posted(self) -> None:
        while self._posted:
            conn, reply = self._posted.popleft()
            conn.commands_in_flight -= 1
            if not conn.closed:
                conn.reply(reply)

    def _flush_all(self) -> None:
        for conn in list(self.clients):
            if conn.ready and conn.wants_write and self._masks.get(conn) == selectors.EVENT_READ:
                self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        try:
            more = conn.flush(self.clock())
        except OSError:
            self._close(conn)
            return
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if more else 0)
        if self._masks.get(conn) != mask and not conn.closed:
            self._masks[conn] = mask
            self.selector.modify(conn.sock, mask, conn)

    def _expire(self) -> None:
        now = self.clock()
        for conn in list(self.clients):
            if not conn.ready and now - conn.accepted_at >= self.agent.hello_timeout:
                self._fail(conn, "no hello within the time allowed")
            elif conn.stalled_since is not None and (
                now - conn.stalled_since >= self.agent.send_timeout
            ):
                self._close(conn)  # its socket stayed full: a reader that stopped reading

    def _fail(self, conn: Connection, error: str) -> None:
        self._unregister(conn)
        conn.fail(error)

    def _close(self, conn: Connection) -> None:
        self._unregister(conn)
        conn.close()

    def _unregister(self, conn: Connection) -> None:
        if conn in self._masks:
            del self._masks[conn]
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(conn.sock)
        with contextlib.suppress(ValueError):
            self.clients.remove(conn)
