"""What a command acts on: the parts of an engine a handler reaches, as a `Protocol`.

`Engine` satisfies it. The command registry (`commands.py`) and the engine's own commands
(`builtin_commands.py`) are typed against it rather than against `core.Engine`, because
`core` imports both of them (the registry it dispatches through, the commands it registers
on import): typed against the class, they would import back the module that imports them.
A capability's handler, above the engine, still takes the `Engine` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui_perf.engine.gc_control import GCController
    from tui_perf.engine.memory import MemoryGuard
    from tui_perf.engine.registry import Registry
    from tui_perf.model.snapshot import Event


class CommandTarget(Protocol):
    """An engine as a command sees it: where it runs, its guard, GC controller and registry,
    and the event log a command writes to."""

    @property
    def local(self) -> bool: ...
    @property
    def guard(self) -> MemoryGuard: ...
    @property
    def gc_controller(self) -> GCController | None: ...
    @property
    def registry(self) -> Registry: ...
    def emit(self, kind: str, message: str, level: str = "info") -> Event: ...
