"""`RemoteSource`: the dashboard's view of a process that runs the agent.

Connects to a Unix socket path or `HOST:PORT`, says hello (with the token on TCP), and
yields the agent's snapshots. When the connection drops it says so, keeps the history the
dashboard already has, and reconnects with backoff; when the target is a child of ours
that exited, it says "target exited (code N)" and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tui_perf import capabilities
from tui_perf.agent.protocol import MAX_SNAPSHOT_FRAME, VERSION, ProtocolError, decode, encode
from tui_perf.engine.commands import COMMANDS
from tui_perf.model.errors import ConfigError, SnapshotFormatError, TuiPerfError
from tui_perf.model.snapshot import Snapshot

StatusCallback = Callable[[str], None]


def parse_address(address: str) -> tuple[str, str | tuple[str, int]]:
    """("unix", path) or ("tcp", (host, port)); raises `ConfigError` on nonsense."""
    if "/" in address or address.endswith(".sock") or Path(address).exists():
        return "unix", address
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{address!r} is neither a socket path nor HOST:PORT")
    return "tcp", (host.strip("[]"), int(port))


class RemoteSource:
    """A Source over the agent's socket."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.2, 5.0),
        child: subprocess.Popen[bytes] | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.kind, self.target = parse_address(address)
        self.address = address
        self.token = token
        self.reconnect = reconnect
        self.backoff = backoff
        self.child = child
        self.connect_timeout = connect_timeout
        self.description = f"agent at {address}"
        self.local_interpreter = True
        self.on_status: StatusCallback | None = None
        self.connected = False
        self.peer_pid: int | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    def _exit_code(self) -> int | None:
        return None if self.child is None else self.child.poll()

    def _gone(self) -> str:
        """Why the target will not come back, or "" while it may."""
        code = self._exit_code()
        if code is not None:
            return f"target exited (code {code})"
        if self.child is None and self.peer_pid is not None and not _pid_alive(self.peer_pid):
            return f"target exited (pid {self.peer_pid} is gone)"
        return ""

    async def _wait_for_exit(self, seconds: float) -> int | None:
        """A child's socket closes a moment before the child is reaped: wait that moment."""
        if self.child is None:
            return None
        for _ in range(int(seconds / 0.02)):
            code = self.child.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.02)
        return None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.kind == "unix":
            assert isinstance(self.target, str)
            coro = asyncio.open_unix_connection(self.target, limit=MAX_SNAPSHOT_FRAME)
        else:
            assert isinstance(self.target, tuple)
            coro = asyncio.open_connection(*self.target, limit=MAX_SNAPSHOT_FRAME)
        reader, writer = await asyncio.wait_for(coro, self.connect_timeout)
        hello = decode(
            await asyncio.wait_for(reader.readline(), self.connect_timeout), MAX_SNAPSHOT_FRAME
        )
        if hello.get("type") != "hello" or hello.get("version") != VERSION:
            writer.close()
            raise ProtocolError(f"not a tui-perf agent of protocol version {VERSION}")
        if hello.get("auth") and self.token is None:
            writer.close()
            raise ConfigError("the agent wants a token: pass --token")
        writer.write(encode({"type": "hello", "version": VERSION, "token": self.token}))
        await writer.drain()
        return reader, writer

    async def snapshots(self) -> AsyncIterator[Snapshot]:
        delay = self.backoff[0]
        lost_once = False
        while not self._closed:
            try:
                reader, writer = await self._open()
            # ValueError: a hello line longer than the reader's limit
            except (OSError, TimeoutError, ProtocolError, ValueError) as exc:
                gone = self._gone()
                if gone:
                    self._status(gone)
                    return
                if not self.reconnect:
                    raise TuiPerfError(f"cannot connect to {self.address}: {exc}") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            self._writer = writer
            self.connected = True
            if lost_once:
                self._status(f"reconnected to {self.address}")
            # The socket is read by its own task, so replies to commands arrive whatever the
            # consumer of snapshots is doing; snapshots wait in a short queue, oldest dropped.
            queue: asyncio.Queue[Snapshot | None] = asyncio.Queue(maxsize=16)
            pump = asyncio.create_task(self._pump(reader, queue))
            try:
                while (snap := await queue.get()) is not None:
                    yield snap
            finally:
                pump.cancel()
                self.connected = False
                self._writer = None
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(TuiPerfError("connection lost"))
                self._pending.clear()
                with contextlib.suppress(Exception):
                    writer.close()
            if self.closed:  # close() was called while we were reading
                return
            await self._wait_for_exit(1.0)
            gone = self._gone()
            if gone:
                self._status(gone)
                return
            lost_once = True
            self._status("connection lost; reconnecting (the history so far is kept)")
            if not self.reconnect:
                return

    async def _pump(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[Snapshot | None]
    ) -> None:
        """Read frames until the connection ends; then put None."""
        try:
            while True:
                try:
                    line = await reader.readline()
                except (OSError, ValueError):  # reset, or a line over the limit
                    return
                if not line:
                    return
                try:
                    message = decode(line, MAX_SNAPSHOT_FRAME)
                except ProtocolError:
                    continue
                kind = message.get("type")
                if kind == "snapshot":
                    try:
                        snap = Snapshot.from_dict(message.get("data"))
                    except SnapshotFormatError as exc:
                        self._status(f"agent sent a bad snapshot: {exc}")
                        continue
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(snap)
                elif kind == "welcome":  # after authentication: who the target is
                    pid = message.get("pid")
                    self.peer_pid = pid if isinstance(pid, int) else None
                elif kind == "reply":
                    ident = message.get("id")
                    future = self._pending.pop(ident, None) if isinstance(ident, int) else None
                    if future is not None and not future.done():
                        future.set_result(message)
                elif kind == "error":
                    self._status(f"agent: {message.get('error')}")
        finally:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]:
        writer = self._writer
        if writer is None or not self.connected:
            raise TuiPerfError("not connected to the agent")
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        writer.write(encode({"type": "command", "id": ident, "name": name, "args": args}))
        await writer.drain()
        capabilities.load()  # for the declared timeout of a capability's command
        declared = COMMANDS.get(name)
        timeout = declared.timeout if declared is not None else 30.0
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(ident, None)
        if not reply.get("ok"):
            raise TuiPerfError(str(reply.get("error", "the agent refused")))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()


def list_agents() -> list[tuple[int, Path, bool]]:
    """(pid, socket path, alive) for every agent socket in this user's runtime directory."""
    from tui_perf.agent.server import runtime_dir

    out = []
    for path in sorted(runtime_dir().glob("agent-*.sock")):
        pid_text = path.stem.removeprefix("agent-")
        # ASCII digits of a pid's length: "²".isdigit() is true and int() refuses it
        if pid_text.isascii() and pid_text.isdigit() and len(pid_text) <= 10:
            pid = int(pid_text)
            alive = _pid_alive(pid)
            out.append((pid, path, alive))
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True
