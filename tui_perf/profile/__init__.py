"""Where the time and the memory go, measured inside the process.

Owns the sampling profiler (a daemon thread reading every thread's Python stack into a
bounded call tree, idle threads told apart, asyncio tasks tagged), its exports (folded
stacks, speedscope JSON), `@profile` / `with profile("name")` timings with percentiles and
optional tracemalloc figures, and allocation sites with growth between marks. Its
`commands` module registers the agent commands and the snapshot section. A capability: it
imports the model and the engine, never the agent, the dashboard or the CLI.

    from tui_perf import profile

    @profile
    def handler(request): ...
"""

from __future__ import annotations

import sys
import types
from typing import Any

from tui_perf.profile.sampler import Profiler, ProfilerConfig
from tui_perf.profile.timings import TIMINGS, Timings, profile
from tui_perf.profile.tree import CallTree, TreeLimits

__all__ = ["TIMINGS", "CallTree", "Profiler", "ProfilerConfig", "Timings", "TreeLimits", "profile"]


class _CallablePackage(types.ModuleType):
    """`tui_perf.profile` is this package once a submodule is imported (Python sets the
    attribute), and the decorator before: calling the package is calling `profile`, so
    `@tui_perf.profile` and `from tui_perf import profile` work in either order."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return profile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
