"""Rules: small classes, each with an id, a description and `check(window)`.

A rule returns a `Finding`, several (one per cache or pool), or None. It says nothing when
the window is too short to judge or the figures it needs are not there: silence is the
answer to "I cannot tell". Every finding carries the measured figures it rests on and, for
an estimate, how the estimate was made.
"""

from __future__ import annotations

from tui_perf.advice.rules.base import Result, Rule
from tui_perf.advice.rules.bench import BenchWorkers, worker_findings
from tui_perf.advice.rules.caches import CacheNotPaying, CacheTooSmall, TtlTooShort
from tui_perf.advice.rules.memory import GcLongPauses, GcTimeShare, LeakSuspect, max_drawdown
from tui_perf.advice.rules.pools import PoolIdle, PoolLeaks, PoolWaits
from tui_perf.advice.settings import AdviceSettings

BUILTIN: tuple[type[Rule], ...] = (
    CacheTooSmall,
    CacheNotPaying,
    TtlTooShort,
    GcTimeShare,
    GcLongPauses,
    LeakSuspect,
    PoolWaits,
    PoolIdle,
    PoolLeaks,
    BenchWorkers,
)


def builtin_rules(settings: AdviceSettings | None = None) -> list[Rule]:
    return [cls(settings) for cls in BUILTIN]


__all__ = [
    "BUILTIN",
    "BenchWorkers",
    "CacheNotPaying",
    "CacheTooSmall",
    "GcLongPauses",
    "GcTimeShare",
    "LeakSuspect",
    "PoolIdle",
    "PoolLeaks",
    "PoolWaits",
    "Result",
    "Rule",
    "TtlTooShort",
    "builtin_rules",
    "max_drawdown",
    "worker_findings",
]
