"""The capabilities an engine can serve, as data: each entry is a module that registers its
commands (and snapshot sections) into `tui_perf.engine.commands.COMMANDS` when imported.

The engine knows none of them. Whatever serves commands to a person (the dashboard's local
source, the agent) calls `load()` first. A new capability adds its module here.
"""

from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = ("tui_perf.bench.commands",)


def load() -> None:
    """Import every capability's commands module (cheap: handlers import their work lazily)."""
    for name in MODULES:
        importlib.import_module(name)
