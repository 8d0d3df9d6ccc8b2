"""The tuner: takes the advisor's findings one at a time, measures each change against the
window before it with the benchmark verdicts' statistics, keeps what helped, rolls back
the rest. Profiles (TOML, shipped and the user's) set its caps and guardrails.

Owns: `profiles` (loading and validating), `system` (what `auto` reads), `measure` (the
target figures and the before/after judgement), `tuner` (the trials), `commands` (the
capability on an engine). May import: the model, the engine, the advice and bench
capabilities. No UI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_perf.tune.profiles import TuneProfile, available, load_profile, parse_profile
    from tui_perf.tune.system import SystemProfile, choose, probe_system
    from tui_perf.tune.tuner import Tuner

#: imported on first use: an engine loads `tune.commands` at start, and the tuner, its
#: profiles (tomllib) and its statistics only when it is turned on
_LAZY = {
    "SystemProfile": "tui_perf.tune.system",
    "TuneProfile": "tui_perf.tune.profiles",
    "Tuner": "tui_perf.tune.tuner",
    "available": "tui_perf.tune.profiles",
    "choose": "tui_perf.tune.system",
    "load_profile": "tui_perf.tune.profiles",
    "parse_profile": "tui_perf.tune.profiles",
    "probe_system": "tui_perf.tune.system",
}
__all__ = [
    "SystemProfile",
    "TuneProfile",
    "Tuner",
    "available",
    "choose",
    "load_profile",
    "parse_profile",
    "probe_system",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
