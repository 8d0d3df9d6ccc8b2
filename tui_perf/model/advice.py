"""What the advisor found, as data that crosses processes: `Finding`, its `Action`, and the
snapshot's advice section `AdviceStats`. Built by `tui_perf.advice`; drawn by the Advice pane,
printed by `tui-perf advise`, exported to Prometheus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("info", "warning", "critical")


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical (unknown ones rank as info)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True, slots=True)
class Action:
    """An engine command and its arguments: what taking the advice means, exactly.

    Arguments are kept as JSON text per name, so an action crosses the wire and the history
    file whatever the command's argument types are.
    """

    command: str
    args: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, command: str, **args: Any) -> Action:
        return cls(command, tuple((k, json.dumps(v)) for k, v in args.items()))

    def arguments(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.args}

    def text(self) -> str:
        """`set_cache_size name="users" maxsize=4096`: what a person would type."""
        parts = [self.command, *(f"{k}={v}" for k, v in self.args)]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """One measured finding: what, the figures it rests on, what to do, what it should give."""

    rule: str
    severity: str
    title: str
    #: (what was measured, its value) pairs, in the order a person reads them
    evidence: tuple[tuple[str, str], ...]
    #: where the evidence came from: "last 60 s (60 snapshots)"
    window: str
    action: Action | None = None
    #: the effect expected, and how that was estimated
    estimate: str = ""
    method: str = ""
    #: "high", "medium" or "low", with why in `method`
    confidence: str = "medium"
    #: the cache, pool or other thing it is about ("" for the process)
    subject: str = ""

    @property
    def key(self) -> str:
        """Stable across windows: the rule and its subject."""
        return f"{self.rule}:{self.subject}" if self.subject else self.rule


@dataclass(frozen=True, slots=True)
class CurveStat:
    """A cache's predicted hit rates by size, from its sampled key stream."""

    cache: str
    current_size: int
    #: (size, predicted LRU hit rate) from 0.25x to 16x the current size
    points: tuple[tuple[int, float], ...]
    #: policy -> predicted hit rate at the current size, by miniature simulation
    policies: tuple[tuple[str, float], ...] = ()
    references: int = 0
    sampled: int = 0
    rate: float = 0.0
    #: measured bytes per entry, when the tier can say
    bytes_per_entry: int | None = None
    #: for a cache with a TTL: its TTL, and (ttl, simulated hit rate) at it and longer ones
    ttl_s: float | None = None
    longer_ttl: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class SamplerMemory:
    """What the caches' key-stream samplers hold together, against their budget."""

    used: int = 0  # bytes, estimated from their lengths
    budget: int = 0
    samplers: int = 0  # attached now
    holding: int = 0  # of those, holding anything (a cache with no lookups holds nothing)
    degraded: int = 0  # shrunk to stay under the budget (a shorter stream, a lower rate)
    dropped: int = 0  # taken off their cache to stay under it: no curve for those


@dataclass(frozen=True, slots=True)
class AdviceStats:
    """The advice section of a snapshot."""

    version: int = 1
    findings: tuple[Finding, ...] = ()
    curves: tuple[CurveStat, ...] = ()
    #: the window the rules read: its length and how many snapshots it held
    window_s: float = 0.0
    snapshots: int = 0
    rules: int = 0
    silenced: tuple[str, ...] = ()
    #: rules that raised, and anything else a person should know
    notes: tuple[str, ...] = ()
    #: the key-stream samplers' memory (None from an agent before it was reported)
    samplers: SamplerMemory | None = None

    @property
    def worst(self) -> Finding | None:
        return max(self.findings, key=lambda f: severity_rank(f.severity), default=None)
