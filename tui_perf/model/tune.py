"""What the tuner did, as data that crosses processes: each `TrialStat` (a change tried,
measured and kept or rolled back) and the snapshot's `tuning` section `TuneStats`. Built
by `tui_perf.tune`; drawn in the Advice pane, printed by `tui-perf tune report`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: a trial's outcomes: still measuring, kept (the target improved beyond noise and no
#: guarded figure got worse), rolled back, or ended before it could be judged
MEASURING, KEPT, ROLLED_BACK, ABANDONED = "measuring", "kept", "rolled back", "abandoned"


@dataclass(frozen=True, slots=True)
class TrialStat:
    """One change the tuner tried: what, why, the target figure before and after, and why
    it was kept or rolled back."""

    finding: str  # the finding's key: "cache-too-small:users"
    command: str  # the engine command and its arguments, as a person reads it
    rollback: str  # the command that undoes it
    target: str  # the figure judged: "hit rate of users", "GC time share"
    before: float  # the target's median over the window before the change
    after: float | None  # ... and after it; None while measuring
    verdict: str  # MEASURING, KEPT, ROLLED_BACK, ABANDONED
    reason: str  # "hit rate 31.0% -> 78.2%, beyond noise (interval +44..+49 points)"
    started: float  # wall-clock seconds
    ended: float | None = None
    #: `before` and `after` as a person reads the target ("hit rate 61.3%"): the raw
    #: figures are lower-is-better (a miss ratio), which nobody should have to invert
    shown_before: str = ""
    shown_after: str = ""


@dataclass(frozen=True, slots=True)
class TuneStats:
    """The tuner's state: on or off, its profile and why it was picked, and its trials,
    newest first."""

    enabled: bool
    profile: str
    why: str  # "auto: cgroup limit 256 MiB is under 1 GiB"
    trials: tuple[TrialStat, ...] = ()
    #: finding keys not retried until the given wall-clock time (a rolled-back change)
    cooling: tuple[tuple[str, float], ...] = ()
    #: why nothing is being tried now, when nothing is: "memory tier HIGH", "1 change this
    #: minute (the profile allows 1)"; "" when a trial runs or nothing is actionable
    holding: str = ""
