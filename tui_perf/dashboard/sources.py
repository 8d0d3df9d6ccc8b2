"""Where the dashboard's snapshots come from. The app reads only from a `Source`.

- `LocalSource`: an `Engine` in this process; each tick runs off the event loop, one at a
  time, so a slow tick stretches the interval instead of piling up.
- `ScriptedSource`: a fixed list of snapshots (tests, demos of a state), with scripted
  command replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from tui_perf import capabilities
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import Snapshot


class Source(Protocol):
    #: a line saying what is watched, for the title bar
    description: str
    #: whether the interpreter is visible (GC, caches, pools, commands)
    local_interpreter: bool

    def snapshots(self) -> AsyncIterator[Snapshot]: ...

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class LocalSource:
    """An engine in this process, ticked every `interval` seconds."""

    def __init__(
        self, engine: Engine, *, interval: float | None = None, description: str = ""
    ) -> None:
        capabilities.attach(engine)
        self.engine = engine
        self.interval = interval if interval is not None else engine.config.interval
        self.description = description or f"pid {engine.sampler.probe.pid}"
        self.local_interpreter = engine.local
        self._closed = False

    async def snapshots(self) -> AsyncIterator[Snapshot]:
        loop = asyncio.get_running_loop()
        while not self._closed:
            started = loop.time()
            snap = await asyncio.to_thread(self.engine.tick)
            yield snap
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.engine.command, name, **args)

    async def close(self) -> None:
        self._closed = True


class ScriptedSource:
    """Replays snapshots; each command gets its scripted reply (or `{}`) and is recorded."""

    def __init__(
        self,
        snapshots: Sequence[Snapshot],
        *,
        replies: dict[str, Any] | None = None,
        description: str = "scripted",
        local_interpreter: bool = True,
        after_command: Callable[[str], Sequence[Snapshot]] | None = None,
    ) -> None:
        self._queue: asyncio.Queue[Snapshot] | None = None
        self._initial = list(snapshots)
        self.replies = replies or {}
        self.description = description
        self.local_interpreter = local_interpreter
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self._after_command = after_command

    def _q(self) -> asyncio.Queue[Snapshot]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            for snap in self._initial:
                self._queue.put_nowait(snap)
        return self._queue

    def push(self, snap: Snapshot) -> None:
        self._q().put_nowait(snap)

    async def snapshots(self) -> AsyncIterator[Snapshot]:
        q = self._q()
        while True:
            yield await q.get()

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]:
        self.commands.append((name, args))
        if name not in self.replies:
            raise ConfigError(f"unknown command {name!r}")
        if self._after_command is not None:
            for snap in self._after_command(name):
                self.push(snap)
        reply = self.replies[name]
        return dict(reply) if isinstance(reply, dict) else {"result": reply}

    async def close(self) -> None:
        return None
