"""The advice capability on an engine: a window of its snapshots, the key streams of its
caches, the advisor, the `advice` snapshot section, and the commands `advise`,
`advice_silence` and `advice_unsilence`.

The section is refreshed every `every_s` seconds (rules read a window, not one tick); the
key-stream samplers are drained at every tick, on the engine's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from tui_perf.advice.advisor import Advisor
from tui_perf.advice.keystreams import KeyStreams
from tui_perf.advice.window import SnapshotIndex, Window
from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.core import Engine
from tui_perf.model.advice import AdviceStats
from tui_perf.model.snapshot import Snapshot, to_dict


class AdviceState:
    def __init__(
        self,
        engine: Engine,
        *,
        advisor: Advisor | None = None,
        window_s: float = 120.0,
        every_s: float = 5.0,
        keystreams: KeyStreams | None = None,
    ) -> None:
        self.engine = engine
        self.advisor = advisor or Advisor()
        self.window_s = window_s
        self.every_s = every_s
        # the engine's clock: rates and refreshes follow its time (tests script it)
        self.keystreams = (
            keystreams
            if keystreams is not None
            else KeyStreams(
                clock=engine.clock,
                budget_bytes=int(engine.config.sampler_budget_mib * 1024 * 1024),
            )
        )
        # the registry's membership when the samplers were last attached, and when: a
        # tick follows the caches again only when one joined or left, or every follow_s
        # (a dropped cache leaves the registry without a word)
        self._followed_version = -1
        self._followed_at = float("-inf")
        self.follow_s = 10.0
        self.snapshots: deque[Snapshot] = deque()
        #: id(snapshot) -> its index, made at the first check that reads it and kept while
        #: the snapshot is in the window: a check indexes only what arrived since the last
        self._indexes: dict[int, SnapshotIndex] = {}
        self._lock = threading.Lock()
        self._latest: AdviceStats | None = None
        self._checked_at = float("-inf")
        engine.subscribe(self._keep)
        engine.add_section(self.section)

    def _keep(self, snap: Snapshot) -> None:
        with self._lock:
            self.snapshots.append(snap)
            while self.snapshots and snap.timestamp - self.snapshots[0].timestamp > self.window_s:
                self._indexes.pop(id(self.snapshots.popleft()), None)

    def section(self) -> dict[str, Any]:
        now = self.engine.clock()
        if self.engine.local:
            registry = self.engine.registry
            if (
                registry.version != self._followed_version
                or now - self._followed_at >= self.follow_s
            ):
                self._followed_version, self._followed_at = registry.version, now
                self.keystreams.follow(registry.caches())
            self.keystreams.drain()
        if now - self._checked_at >= self.every_s:
            self._checked_at = now
            self._latest = self.check()
        elif self.engine.local:
            # curves are made on a tick without a rules check: the two would make one
            # tick as slow as both
            self.keystreams.refresh()
        return {"advice": self._latest}

    @property
    def latest(self) -> AdviceStats | None:
        """The advice of the last refresh (every `every_s`), None before the first."""
        return self._latest

    def window(self, force_curves: bool = False) -> Window:
        with self._lock:
            snaps = tuple(self.snapshots)
            known = [self._indexes.get(id(s)) for s in snaps]
        indexes = tuple(
            i if i is not None else SnapshotIndex.of(s) for s, i in zip(snaps, known, strict=True)
        )
        with self._lock:
            live = {id(s) for s in self.snapshots}  # not those that left while we indexed
            for snap, index in zip(snaps, indexes, strict=True):
                if id(snap) in live:
                    self._indexes[id(snap)] = index
        curves = self.keystreams.curves(True) if force_curves else self.keystreams.current()
        return Window(snaps, curves, indexes)

    def check(self, force_curves: bool = False) -> AdviceStats:
        window = self.window(force_curves)
        advice = self.advisor.check(window)
        return AdviceStats(
            findings=advice.findings,
            curves=tuple(window.curves[name] for name in sorted(window.curves)),
            window_s=window.duration_s,
            snapshots=len(window.snapshots),
            rules=len(self.advisor.rules),
            silenced=tuple(sorted(self.advisor.silenced)),
            notes=advice.notes,
            samplers=self.keystreams.memory() if self.engine.local else None,
        )


def state_of(engine: Engine) -> AdviceState:
    return engine.extension("advice", AdviceState)


def attach(engine: Engine) -> None:
    """Called by `capabilities.attach`: the window fills from the first tick, so advice is
    there when someone asks. Only inside the process (caches are sampled there)."""
    if engine.local:
        state_of(engine)


@COMMANDS.register("advise", "Advice now")
def advise(engine: Engine) -> dict[str, Any]:
    stats = state_of(engine).check(force_curves=True)
    return to_dict(stats)


@COMMANDS.register("advice_silence", "Silence a rule", Arg("rule", str))
def advice_silence(engine: Engine, rule: str) -> dict[str, Any]:
    state = state_of(engine)
    state.advisor.silence(rule)
    return {"silenced": sorted(state.advisor.silenced)}


@COMMANDS.register("advice_unsilence", "Unsilence a rule", Arg("rule", str))
def advice_unsilence(engine: Engine, rule: str) -> dict[str, Any]:
    state = state_of(engine)
    state.advisor.unsilence(rule)
    return {"silenced": sorted(state.advisor.silenced)}
