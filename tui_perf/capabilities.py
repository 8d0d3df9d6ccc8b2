"""The capabilities an engine can serve, as data: each entry is a module that registers its
commands (and snapshot sections) into `tui_perf.engine.commands.COMMANDS` when imported.

The engine knows none of them. Whatever serves commands to a person (the dashboard's local
source, the agent) calls `load()` first. A new capability adds its module here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_perf.engine.core import Engine

MODULES: tuple[str, ...] = (
    "tui_perf.bench.commands",
    "tui_perf.profile.commands",
    "tui_perf.advice.commands",
    "tui_perf.tune.commands",  # after advice: it reads the advice window
)


def load() -> None:
    """Import every capability's commands module (cheap: handlers import their work lazily)."""
    for name in MODULES:
        importlib.import_module(name)


def attach(engine: Engine) -> None:
    """Load every capability, and let each that keeps state on every engine (an `attach`
    function in its module) add its snapshot sections now rather than at its first command.
    """
    load()
    for name in MODULES:
        hook = getattr(importlib.import_module(name), "attach", None)
        if hook is not None:
            hook(engine)
