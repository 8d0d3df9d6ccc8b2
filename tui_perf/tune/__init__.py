"""The tuner: takes the advisor's findings one at a time, measures each change against the
window before it with the benchmark verdicts' statistics, keeps what helped, rolls back
the rest. Profiles (TOML, shipped and the user's) set its caps and guardrails.

Owns: `profiles` (loading and validating), `system` (what `auto` reads), `measure` (the
target figures and the before/after judgement), `tuner` (the trials), `commands` (the
capability on an engine). May import: the model, the engine, the advice and bench
capabilities. No UI.
"""

from __future__ import annotations

from tui_perf.tune.profiles import TuneProfile, available, load_profile, parse_profile
from tui_perf.tune.system import SystemProfile, choose, probe_system
from tui_perf.tune.tuner import Tuner

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
