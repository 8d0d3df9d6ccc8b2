"""`Tuner`: takes the advisor's actionable findings one at a time, measures each change,
keeps it only when it measurably helped, and rolls it back otherwise.

A step is driven by the engine's thread with the advice window's snapshots and findings;
time is the snapshots' own timestamps, so tests script it. The tuner runs commands through
a callable (the engine's command registry in production), the same path a person's key
press takes, and never raises: a command that fails ends the trial as abandoned.

A trial, in order:
1. guardrails: nothing while the memory tier is HIGH or above; at most `max_changes` per
   `interval_s`; a finding whose change was rolled back waits out `cooldown_s`; arguments
   are clamped to the profile's caps, and a change the caps leave empty is not tried;
2. the window before (the last `window_s` of snapshots) is kept, the command runs, and the
   command that undoes it is built from what it reports it replaced;
3. after `settle_s`, the window after (`window_s`) is judged against the one before
   (`measure.compare`); kept when the target went down beyond noise and `min_effect`,
   RSS grew less than `max_rss_growth` of the budget and the GC pause p99 did not get
   worse beyond noise; otherwise the rollback runs. The tier reaching HIGH mid-trial
   abandons it and rolls back at once.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tui_perf.bench.compare import FASTER, SLOWER
from tui_perf.model.advice import Action, CurveStat, Finding, severity_rank
from tui_perf.model.snapshot import Snapshot
from tui_perf.model.tune import ABANDONED, KEPT, MEASURING, ROLLED_BACK, TrialStat, TuneStats
from tui_perf.tune.measure import Target, compare, interval_values, median, target_for
from tui_perf.tune.profiles import TuneProfile

log = logging.getLogger("tui_perf.tune")

RunCommand = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
#: tiers at which nothing is changed, and a running trial is abandoned
HOLD_TIERS = ("HIGH", "CRITICAL")
MAX_TRIALS = 100


@dataclass(frozen=True, slots=True)
class _Running:
    finding: Finding
    action: Action
    rollback: tuple[Action, ...]
    target: Target
    at: float  # snapshot time the change was made
    before: tuple[Snapshot, ...]
    trial: TrialStat


class Tuner:
    def __init__(
        self,
        profile: TuneProfile,
        run: RunCommand,
        *,
        why: str = "",
        enabled: bool = True,
        on_trial: Callable[[TrialStat], None] | None = None,
    ) -> None:
        self.profile = profile
        self.why = why
        self.enabled = enabled
        self._run = run
        self._on_trial = on_trial or (lambda trial: None)
        self.trials: deque[TrialStat] = deque(maxlen=MAX_TRIALS)  # newest first
        self.cooling: dict[str, float] = {}
        self._started: deque[float] = deque()
        self._current: _Running | None = None
        self.holding = ""

    @property
    def measuring(self) -> bool:
        return self._current is not None

    # -- one step ------------------------------------------------------------------------

    def step(
        self,
        snaps: Sequence[Snapshot],
        findings: Sequence[Finding],
        curves: Mapping[str, CurveStat] | None = None,
    ) -> None:
        """Judge a running trial when its window is complete, else start one if allowed."""
        if not snaps:
            return
        try:
            if self._current is not None:
                self._follow(snaps)
            elif self.enabled:
                self._maybe_start(snaps, findings, curves or {})
            else:
                self.holding = "off"
        except Exception:  # never into the host: the trial ends, the tuner goes on
            log.exception("tuner step failed")
            if self._current is not None:
                failed = "the tuner failed; rolled back"
                self._end(self._current, None, ABANDONED, failed, snaps[-1].timestamp)

    def _maybe_start(
        self, snaps: Sequence[Snapshot], findings: Sequence[Finding], curves: Mapping[str, Any]
    ) -> None:
        t = self.profile.tuner
        now = snaps[-1].timestamp
        if snaps[-1].tier in HOLD_TIERS:
            self.holding = f"memory tier {snaps[-1].tier}: no changes until it is lower"
            return
        while self._started and now - self._started[0] >= t.interval_s:
            self._started.popleft()
        if len(self._started) >= t.max_changes:
            self.holding = (
                f"{len(self._started)} change(s) in the last {t.interval_s:g} s "
                f"(the profile allows {t.max_changes})"
            )
            return
        before = tuple(s for s in snaps if s.timestamp >= now - t.window_s)
        if before[-1].timestamp - before[0].timestamp < t.window_s * 0.9:
            self.holding = f"gathering {t.window_s:g} s of figures before any change"
            return
        for finding in sorted(findings, key=lambda f: -severity_rank(f.severity)):
            until = self.cooling.get(finding.key)
            if until is not None and now < until:
                continue
            action = self._capped(finding, snaps[-1], curves)
            target = target_for(action) if action is not None else None
            if action is None or target is None:
                continue
            self._start(finding, action, target, before, now)
            self.holding = ""
            return
        cooling = sum(1 for until in self.cooling.values() if until > now)
        self.holding = f"{cooling} change(s) cooling off after a rollback" if cooling else ""

    def _capped(self, finding: Finding, last: Snapshot, curves: Mapping[str, Any]) -> Action | None:
        """The finding's action within the profile's caps; None when the caps leave nothing
        to change, or the tuner does not take this kind of action."""
        action = finding.action
        if action is None:
            return None
        args = action.arguments()
        p = self.profile
        if action.command == "set_cache_size":
            cap = p.caches.max_entries
            curve = curves.get(args["name"])
            budget = last.memory.budget
            if curve is not None and curve.bytes_per_entry and budget:
                cap = min(cap, int(budget * p.caches.max_share / curve.bytes_per_entry))
            current = next(
                (c.tiers[0].maxsize for c in last.caches if c.name == args["name"] and c.tiers),
                None,
            )
            size = min(_size_for(curve, cap, p.caches.gain_share) or int(args["maxsize"]), cap)
            if current is not None and size <= current:
                return None
            return Action.of("set_cache_size", name=args["name"], maxsize=size)
        if action.command == "set_cache_ttl":
            ttl = min(max(float(args["ttl"]), p.caches.min_ttl_s), p.caches.max_ttl_s)
            return Action.of("set_cache_ttl", name=args["name"], ttl=ttl)
        if action.command == "resize_pool":
            size = min(int(args["max_size"]), p.pools.max_size)
            current = next((q.max_size for q in last.pools if q.name == args["name"]), None)
            if current is not None and size <= current:
                return None
            return Action.of("resize_pool", name=args["name"], max_size=size)
        if action.command in ("set_gc_strategy", "gc_freeze"):
            return action
        return None  # advice for a person (alloc_start, pool idle): not measured here

    def _start(
        self,
        finding: Finding,
        action: Action,
        target: Target,
        before: tuple[Snapshot, ...],
        now: float,
    ) -> None:
        last = before[-1]
        try:
            result = self._run(action.command, action.arguments())
        except Exception as exc:  # the cache or pool went away, a bad argument
            self.cooling[finding.key] = now + self.profile.tuner.cooldown_s
            self._record(self._trial(finding, action, (), target, before, now, str(exc)))
            return
        rollback = _rollback(action, result, last)
        self._started.append(now)
        trial = self._trial(finding, action, rollback, target, before, now, "")
        self._current = _Running(finding, action, rollback, target, now, before, trial)
        self._record(trial)

    def _trial(
        self,
        finding: Finding,
        action: Action,
        rollback: tuple[Action, ...],
        target: Target,
        before: tuple[Snapshot, ...],
        now: float,
        failed: str,
    ) -> TrialStat:
        values = interval_values(before, target)
        return TrialStat(
            finding.key,
            action.text(),
            " then ".join(a.text() for a in rollback) or "-",
            target.name,
            median(values),
            None,
            ABANDONED if failed else MEASURING,
            f"the command failed: {failed}" if failed else f"measuring: {finding.title}",
            now,
            now if failed else None,
            target.show(median(values)),
        )

    def _follow(self, snaps: Sequence[Snapshot]) -> None:
        run = self._current
        assert run is not None
        t = self.profile.tuner
        now = snaps[-1].timestamp
        if snaps[-1].tier in HOLD_TIERS:
            held = f"memory tier {snaps[-1].tier} during the trial"
            self._end(run, None, ABANDONED, held, now)
            return
        start = run.at + t.settle_s
        if now < start + t.window_s:
            return
        after = tuple(s for s in snaps if start <= s.timestamp <= start + t.window_s)
        self._judge(run, after, now)

    def _judge(self, run: _Running, after: tuple[Snapshot, ...], now: float) -> None:
        t = self.profile.tuner
        before_v = interval_values(run.before, run.target)
        after_v = interval_values(after, run.target)
        if len(before_v) < 6 or len(after_v) < 6:
            idle = "too few intervals to judge (the target was idle)"
            self._end(run, None, ABANDONED, idle, now)
            return
        verdict = compare(run.target.name, before_v, after_v, t.min_effect)
        shown = (
            f"{run.target.show(median(before_v))} -> {run.target.show(median(after_v))}; "
            f"{run.target.figure} {verdict.ci_low - 1:+.0%}..{verdict.ci_high - 1:+.0%} "
            "(95% interval)"
        )
        guard = self._guards(run, after)
        if verdict.verdict == FASTER and not guard:
            self._end(run, median(after_v), KEPT, f"{shown}: better beyond noise", now)
        elif verdict.verdict == FASTER:
            self._end(run, median(after_v), ROLLED_BACK, f"{shown}, but {guard}", now)
        else:
            word = "worse" if verdict.verdict == SLOWER else "not better beyond noise"
            self._end(run, median(after_v), ROLLED_BACK, f"{shown}: {word}", now)

    def _guards(self, run: _Running, after: tuple[Snapshot, ...]) -> str:
        """What got worse that must not: RSS beyond its allowance, GC pause p99."""
        t = self.profile.tuner
        rss_b = statistics.median(s.memory.rss for s in run.before)
        rss_a = statistics.median(s.memory.rss for s in after)
        budget = after[-1].memory.budget
        if budget and rss_a - rss_b > t.max_rss_growth * budget:
            grown = (rss_a - rss_b) / budget
            return f"RSS grew by {grown:.0%} of the budget (allowed {t.max_rss_growth:.0%})"
        p99_b = [s.gc.pause_p99_ms for s in run.before if s.gc and s.gc.pause_p99_ms > 0]
        p99_a = [s.gc.pause_p99_ms for s in after if s.gc and s.gc.pause_p99_ms > 0]
        if len(p99_b) >= 6 and len(p99_a) >= 6:
            pauses = compare("GC pause p99", p99_b, p99_a, t.min_effect)
            if pauses.verdict == SLOWER and pauses.ci_low > 1 + t.max_pause_growth:
                return (
                    f"GC pause p99 grew {pauses.ci_low - 1:+.0%}..{pauses.ci_high - 1:+.0%} "
                    f"(the profile allows {t.max_pause_growth:+.0%})"
                )
        return ""

    def _end(
        self, run: _Running, after: float | None, verdict: str, reason: str, now: float
    ) -> None:
        if verdict != KEPT:
            for action in run.rollback:
                try:
                    self._run(action.command, action.arguments())
                except Exception as exc:  # the thing went away: nothing left to undo
                    reason += f"; rollback {action.command} failed: {exc}"
            self.cooling[run.finding.key] = run.at + self.profile.tuner.cooldown_s
        self._current = None
        shown = "" if after is None else run.target.show(after)
        trial = replace(run.trial, after=after, verdict=verdict, reason=reason, ended=now)
        self._record(replace(trial, shown_after=shown))

    def _record(self, trial: TrialStat) -> None:
        if self.trials and self.trials[0].started == trial.started:
            self.trials[0] = trial  # the running trial, updated
        else:
            self.trials.appendleft(trial)
        try:
            self._on_trial(trial)
        except Exception:
            log.exception("recording a trial failed")

    def stats(self, now: float) -> TuneStats:
        # copies first: a command thread asks while the engine's thread steps
        cooling = tuple(sorted((k, u) for k, u in list(self.cooling.items()) if u > now))
        return TuneStats(
            self.enabled, self.profile.name, self.why, tuple(self.trials), cooling, self.holding
        )


def _size_for(curve: CurveStat | None, cap: int, share: float) -> int | None:
    """The smallest size within `cap` whose predicted hit rate reaches `share` of the gain
    the curve shows over its current size; None without a curve or a gain."""
    if curve is None:
        return None
    here = dict(curve.points).get(curve.current_size)
    bigger = [(s, r) for s, r in curve.points if curve.current_size < s <= cap]
    if here is None or not bigger:
        return None
    best = max(r for _, r in bigger)
    if best <= here:
        return None
    target = here + share * (best - here)
    return next(s for s, r in bigger if r >= target)


def _rollback(action: Action, result: Mapping[str, Any], last: Snapshot) -> tuple[Action, ...]:
    """The commands that put back what `action` replaced, from what it reported."""
    args = action.arguments()
    before = result.get("before")
    if action.command == "set_cache_size" and isinstance(before, int):
        return (Action.of("set_cache_size", name=args["name"], maxsize=before),)
    if action.command == "set_cache_ttl":
        if isinstance(before, int | float) and math.isfinite(before) and before > 0:
            return (Action.of("set_cache_ttl", name=args["name"], ttl=float(before)),)
        return ()  # no TTL before: nothing to put back
    if action.command == "resize_pool" and isinstance(before, int):
        return (Action.of("resize_pool", name=args["name"], max_size=before),)
    if action.command == "set_gc_strategy" and last.gc is not None:
        undo = [Action.of("set_gc_strategy", name=last.gc.strategy)]
        if last.gc.adaptive:
            undo.append(Action.of("set_adaptive", on=True))
        return tuple(undo)
    if action.command == "gc_freeze":
        return (Action.of("gc_unfreeze"),)
    return ()
