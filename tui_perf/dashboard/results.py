"""What a command's result says to a person: its title, and one or two lines from its reply.

Each command declares both beside its handler (`COMMANDS.register(name, title, describe=...)`);
this module only finds them by name. The name is all a reply from another process carries,
and the registry is the same code on both sides of the agent, so a command run through the
agent reads as it does locally. A command the registry does not know (an agent of a newer
version) or that declares no `describe` reads by the generic fallback below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui_perf import capabilities
from tui_perf.engine import builtin_commands as _builtin_commands  # the engine's own commands
from tui_perf.engine.commands import COMMANDS, Command

del _builtin_commands  # imported for its registrations only


def _declared(name: str) -> Command | None:
    capabilities.load()  # cheap once done; the dashboard may not have loaded them yet
    return COMMANDS.get(name)


def command_title(name: str) -> str:
    """What the command is called where people read it (a toast's title, an Events line)."""
    command = _declared(name)
    return command.title if command is not None else name.replace("_", " ").capitalize()


def describe_result(name: str, result: Mapping[str, Any]) -> str:
    """One or two lines a person reads: "; " separates the parts, the toast shows the first.

    Raises KeyError, TypeError, ValueError or AttributeError for a reply not shaped as
    declared (an agent of another version); the caller says "done" then.
    """
    command = _declared(name)
    if command is not None and command.describe is not None:
        return command.describe(result)
    return generic_reading(result)


def generic_reading(result: Mapping[str, Any]) -> str:
    """The reply's scalar fields as "field: value" pairs ("unfrozen: 1,204"); nested lists and
    dicts are left to Events' reader, not a toast. "done" when nothing is left."""
    parts = [
        f"{key.replace('_', ' ')}: {_scalar(value)}"
        for key, value in result.items()
        if isinstance(value, str | int | float)  # bool is an int
    ]
    return ", ".join(parts) or "done"


def _scalar(value: str | float) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return value
