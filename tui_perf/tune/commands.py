"""The tuning capability on an engine: the profile (`EngineConfig.profile`, "auto" by
default), the `Tuner` stepped at every tick with the advice window, the `tuning` snapshot
section, and the commands `set_tuning` (the dashboard's `t`) and `tune_status`.

The tuner exists on every local engine, off unless `EngineConfig(tune=True)`; turning it
on later loads the profile then. A trial's end is an event (kind "tune"), so it reaches
the history file with the rest, where `tui-perf tune report` reads it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tui_perf.advice.commands import AdviceState
from tui_perf.advice.commands import state_of as advice_of
from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError
from tui_perf.model.format import fmt_bytes
from tui_perf.model.snapshot import to_dict
from tui_perf.model.tune import MEASURING, TrialStat

if TYPE_CHECKING:  # the tuner's modules load when it is first turned on (off by default)
    from tui_perf.tune.learned import Learned
    from tui_perf.tune.profiles import TuneProfile
    from tui_perf.tune.tuner import Tuner

log = logging.getLogger("tui_perf.tune")

#: separates a trial event's fields; `tui-perf tune report` splits on it
SEP = " | "


def trial_message(trial: TrialStat) -> str:
    """A finished trial as one event line: verdict, command, why, before/after, reason."""
    # a trial recorded by an older agent has no shown figures: the raw ones stand in
    before = trial.shown_before or f"{trial.before:.6g}"
    after = "not measured" if trial.after is None else (trial.shown_after or f"{trial.after:.6g}")
    return SEP.join(
        (
            f"{trial.verdict}: {trial.command}",
            f"finding {trial.finding}",
            f"{trial.target}: {before} -> {after}",
            trial.reason,
            f"undo: {trial.rollback}",
        )
    )


class TuneState:
    def __init__(self, engine: Engine, advice: AdviceState, learned: Learned | None = None) -> None:
        self.engine = engine
        self.advice = advice
        self._learned = learned
        self._lock = threading.Lock()
        self._auto = engine.config.profile == "auto"
        self._refined = not self._auto
        self.tuner: Tuner | None = None
        if engine.config.tune:
            self.enable(True)
        engine.add_section(self.section)

    @property
    def learned(self) -> Learned:
        """What earlier runs rolled back (read when the tuner is first turned on)."""
        if self._learned is None:
            from tui_perf.tune.learned import Learned

            self._learned = Learned()
        return self._learned

    # -- the profile ---------------------------------------------------------------------

    def _load(self) -> tuple[TuneProfile, str]:
        from tui_perf.tune.profiles import load_profile
        from tui_perf.tune.system import choose, probe_system

        name = self.engine.config.profile
        if name != "auto":
            return load_profile(name), f"chosen: {name}"
        picked, why = choose(probe_system())
        return load_profile(picked), f"auto: {why}"

    def _apply(self, profile: TuneProfile) -> None:
        """The profile's budget (unless the config set one) and GC settings; the caps and
        guardrails the tuner reads itself."""
        if self.engine.config.budget_mib is None:
            from tui_perf.tune.system import probe_system

            system = probe_system()
            budget = int(system.memory_limit * profile.memory.budget_share)
            self.engine.guard.budget = budget
            self.engine.sampler.budget = budget
            self.engine.emit(
                "tune",
                f"memory budget {fmt_bytes(budget)}: {profile.memory.budget_share:.0%} of the "
                f"{system.limited_by} limit (profile {profile.name})",
            )
        controller = self.engine.gc_controller
        if controller is None:
            return
        if profile.gc.adaptive_map:
            controller.adaptive_map = {**controller.adaptive_map, **profile.gc.adaptive_map}
        controller.set_adaptive(False)  # so the strategy below is not undone at the next tier
        controller.set_strategy(profile.gc.strategy, reason=f"profile {profile.name}")
        controller.set_adaptive(profile.gc.adaptive)

    def enable(self, on: bool) -> Tuner:
        with self._lock:
            if self.tuner is None:
                from tui_perf.tune.tuner import Tuner

                profile, why = self._load()
                self.tuner = Tuner(profile, self._run, why=why, on_trial=self._event)
                self.tuner.cooling.update(self.learned.load(self.engine.wall()))
                self._apply(profile)
                self._make_room(profile)
                self.engine.emit("tune", f"profile {profile.name} ({why})")
            self.tuner.enabled = on
            return self.tuner

    def _make_room(self, profile: TuneProfile) -> None:
        """The advice window must hold a trial's windows before and after."""
        t = profile.tuner
        self.advice.window_s = max(self.advice.window_s, 2 * t.window_s + t.settle_s + 10)

    def _refine(self, tuner: Tuner) -> None:
        """`auto` chose from the machine at first; once the window holds the process's CPU
        over a tuner window, it chooses again with it, once."""
        snaps = self.advice.window().snapshots
        t = tuner.profile.tuner
        if len(snaps) < 2 or snaps[-1].timestamp - snaps[0].timestamp < t.window_s:
            return
        from tui_perf.tune.profiles import load_profile
        from tui_perf.tune.system import choose, probe_system

        self._refined = True
        picked, why = choose(probe_system([s.memory.cpu_percent for s in snaps]))
        if picked != tuner.profile.name:
            profile = load_profile(picked)
            tuner.profile, tuner.why = profile, f"auto: {why}"
            self._apply(profile)
            self._make_room(profile)
            self.engine.emit("tune", f"profile {picked} ({why})")
        else:
            tuner.why = f"auto: {why}"

    # -- every tick ----------------------------------------------------------------------

    def _run(self, command: str, args: Any) -> dict[str, Any]:
        return COMMANDS.run(self.engine, command, args)

    def _event(self, trial: TrialStat) -> None:
        if trial.verdict != MEASURING and trial.verdict != "kept" and self.tuner is not None:
            self.learned.save(self.tuner.cooling, self.engine.wall())
        if trial.verdict != MEASURING:
            level = "info" if trial.verdict == "kept" else "warning"
            self.engine.emit("tune", trial_message(trial), level)

    def section(self) -> dict[str, Any]:
        tuner = self.tuner
        if tuner is None:
            return {}
        if tuner.enabled and not self._refined and not tuner.measuring:
            self._refine(tuner)
        window = self.advice.window()
        latest = self.advice.latest
        findings = latest.findings if latest is not None else ()
        tuner.step(
            window.snapshots, findings, {c.cache: c for c in latest.curves} if latest else {}
        )
        now = window.snapshots[-1].timestamp if window.snapshots else 0.0
        return {"tuning": tuner.stats(now)}


def state_of(engine: Engine) -> TuneState:
    advice = advice_of(engine)  # first: `extension` holds a lock its factories cannot retake
    return engine.extension("tune", lambda e: TuneState(e, advice))


def attach(engine: Engine) -> None:
    """Called by `capabilities.attach`, after advice: only inside the process."""
    if engine.local:
        try:
            state_of(engine)
        except ConfigError as exc:  # a bad profile name: said once, the engine goes on
            engine.emit("tune", f"tuning off: {exc}", "error")
            log.warning("tuning off: %s", exc)


def _tuning_reads(result: Mapping[str, Any]) -> str:
    state = "on" if result["enabled"] else "off"
    return f"tuner {state}; profile {result['profile']} ({result['why']})"


@COMMANDS.register("set_tuning", "Tuner", Arg("on", bool), describe=_tuning_reads)
def set_tuning(engine: Engine, on: bool) -> dict[str, Any]:
    tuner = state_of(engine).enable(on)
    engine.emit("tune", f"tuner {'on' if on else 'off'} (profile {tuner.profile.name})")
    return {"enabled": tuner.enabled, "profile": tuner.profile.name, "why": tuner.why}


@COMMANDS.register("tune_status", "Tuner status")
def tune_status(engine: Engine) -> dict[str, Any]:
    tuner = state_of(engine).tuner
    if tuner is None:
        return {"enabled": False, "profile": "", "why": "never turned on", "trials": []}
    snaps = state_of(engine).advice.window().snapshots
    return to_dict(tuner.stats(snaps[-1].timestamp if snaps else 0.0))
