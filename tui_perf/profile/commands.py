"""The profiling capability's engine commands and its snapshot section.

Commands: `profile_start`, `profile_stop`, `profile_reset`, `profile_export`, `alloc_start`,
`alloc_stop`, `alloc_mark`. The section puts a `ProfileStats` on every snapshot once there is
something to show: the sampler ran, a `@profile` name was timed, or allocations are traced.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError
from tui_perf.model.format import fmt_bytes
from tui_perf.model.paths import data_dir
from tui_perf.model.snapshot import AllocStats, FunctionStat, ProfileStats
from tui_perf.profile.alloc import AllocationTracker
from tui_perf.profile.export import FORMATS, SUFFIX, render, write_confined
from tui_perf.profile.sampler import Profiler
from tui_perf.profile.timings import TIMINGS, Timings

#: inline exports ride on one agent frame (8 MiB); past this, write a file instead
MAX_INLINE = 6 * 1024 * 1024


def profiles_dir() -> Path:
    return data_dir() / "profiles"


class ProfileState:
    """One engine's profiler, allocation tracker and timings, and the section they make."""

    def __init__(
        self,
        engine: Engine,
        *,
        profiler: Profiler | None = None,
        timings: Timings | None = None,
        top: int = 30,
        alloc_every: float = 5.0,
    ) -> None:
        self.engine = engine
        self.profiler = profiler or Profiler()
        self.timings = timings if timings is not None else TIMINGS
        self.alloc = AllocationTracker(wall=engine.wall)
        self.top = top
        self.alloc_every = alloc_every
        #: (when to read again, the sites read last)
        self._alloc_cache: tuple[float, AllocStats | None] | None = None
        self._lock = threading.Lock()
        engine.add_section(self.section)

    def section(self) -> dict[str, Any]:
        return {"profile": self.stats()}

    def stats(self) -> ProfileStats | None:
        status = self.profiler.status()
        timings = tuple(self.timings.stats())
        alloc = self._alloc_stats()
        if not (status.samples or status.idle_samples or status.running or timings or alloc):
            return None
        functions = top_functions(self.profiler, self.top)
        notes = list(self.timings.notes)
        if status.note:
            notes.append(status.note)
        if self.profiler.tree.dropped_functions:
            notes.append(
                f"function table full ({self.profiler.config.limits.max_functions}): "
                "new functions count as (other functions)"
            )
        return ProfileStats(
            running=status.running,
            target_hz=status.target_hz,
            rate_hz=status.rate_hz,
            cost_fraction=status.cost_fraction,
            samples=status.samples,
            idle_samples=status.idle_samples,
            active_s=status.active_s,
            clock=status.clock,
            duration_s=status.duration_s,
            threads=status.threads,
            functions=functions,
            timings=timings,
            alloc=alloc,
            notes=tuple(notes),
            sampler=status.sampler,
            mode=status.mode,
            achieved_hz=status.achieved_hz,
        )

    def _alloc_stats(self, fresh: bool = False) -> AllocStats | None:
        if not self.alloc.tracing:
            self._alloc_cache = None
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._alloc_cache
            if fresh or cached is None or now >= cached[0]:
                stats = self.alloc.stats()
                took = time.monotonic() - now
                # A snapshot of a large traced heap holds the GIL for seconds (the host and
                # a dashboard in its process stall meanwhile): read again after
                # `alloc_every`, or after 50x what this one took, whichever is later, so
                # reading sites costs at most 2% of the time (0: every tick, for tests).
                wait = max(self.alloc_every, 50 * took) if self.alloc_every > 0 else 0.0
                self._alloc_cache = cached = (now + wait, stats)
        return cached[1]


def top_functions(profiler: Profiler, n: int) -> tuple[FunctionStat, ...]:
    """The top `n` by own time and the top `n` by total time, together (a pane sorts)."""
    rows = profiler.rows()
    chosen = {r.key: r for r in rows[:n]}
    for r in sorted(rows, key=lambda r: -r.total_s)[:n]:
        chosen.setdefault(r.key, r)
    return tuple(
        FunctionStat(
            r.key.function,
            r.key.file,
            r.key.line,
            r.own_s,
            r.total_s,
            r.own_samples,
            r.total_samples,
        )
        for r in sorted(chosen.values(), key=lambda r: (-r.own_s, -r.total_s))
    )


def state_of(engine: Engine) -> ProfileState:
    return engine.extension("profile", ProfileState)


def attach(engine: Engine) -> None:
    """Called by `capabilities.attach`: `@profile` timings show before any command.

    Only for an engine inside its process: from outside there is no interpreter to sample.
    """
    if engine.local:
        state_of(engine)


def _status(state: ProfileState) -> dict[str, Any]:
    s = state.profiler.status()
    return {
        "running": s.running,
        "rate_hz": s.rate_hz,
        "target_hz": s.target_hz,
        "samples": s.samples,
        "idle_samples": s.idle_samples,
        "duration_s": s.duration_s,
        "cost_fraction": s.cost_fraction,
        "sampler": s.sampler,
        "mode": s.mode,
        "achieved_hz": s.achieved_hz,
        "rounds": s.rounds,
        "note": s.note,
    }


def _profiler_reads(result: Mapping[str, Any]) -> str:
    state = "sampling" if result.get("running") else "stopped"
    return f"{state} at {result.get('target_hz', 0):.0f} Hz; {result.get('samples', 0)} samples"


@COMMANDS.register(
    "profile_start",
    "Profiler",
    Arg("rate", float, 100.0, low=1, high=1000),
    Arg("reset", bool, False),
    Arg("max_cost", float, 1.0, low=0.01, high=100, nullable=True),
    describe=_profiler_reads,
)
def profile_start(
    engine: Engine, rate: float, reset: bool, max_cost: float | None
) -> dict[str, Any]:
    """Sample every thread's stack `rate` times a second: at most that, halved while the
    sampler costs more than `max_cost` percent of a core; `max_cost=None`: `rate` fixed."""
    state = state_of(engine)
    if reset:
        state.profiler.reset()
    profiler = state.profiler
    if not profiler.running:
        profiler.config = dataclasses.replace(
            profiler.config,
            adaptive=max_cost is not None,
            max_cost=(max_cost or 1.0) / 100,
        )
    profiler.start(rate)
    return _status(state)


@COMMANDS.register("profile_stop", "Profiler", describe=_profiler_reads)
def profile_stop(engine: Engine) -> dict[str, Any]:
    state = state_of(engine)
    state.profiler.stop()
    return _status(state)


@COMMANDS.register("profile_reset", "Reset the profile")
def profile_reset(engine: Engine) -> dict[str, Any]:
    state = state_of(engine)
    state.profiler.reset()
    return _status(state)


def _export_reads(result: Mapping[str, Any]) -> str:
    return (
        f"flame graph written to {result.get('path')} ({result.get('stacks', 0)} stacks); "
        "open it at https://www.speedscope.app"
    )


@COMMANDS.register(
    "profile_export",
    "Flame graph",
    Arg("format", str, "speedscope", choices=FORMATS),
    Arg("path", str, None, nullable=True),
    Arg("inline", bool, False),
    describe=_export_reads,
)
def profile_export(engine: Engine, format: str, path: str | None, inline: bool) -> dict[str, Any]:
    """Write the profile as folded stacks or speedscope JSON; or return it (`inline`).

    The file goes under the user's data directory, `profiles/` (0700), with a name made
    here, created 0600 and exclusively without following links; the reply's `path` says
    where. A `path` argument is refused: any peer holding the token may send this command.
    """
    state = state_of(engine)
    tree = state.profiler.tree_copy()
    text = render(tree, format, name=f"pid {os.getpid()}")
    out: dict[str, Any] = {
        "format": format,
        "stacks": len(tree.stacks),
        "samples": tree.samples,
        "bytes": len(text.encode()),
    }
    if inline:
        if out["bytes"] > MAX_INLINE:
            raise ConfigError(
                f"the export is {out['bytes']} bytes, over {MAX_INLINE} inline: give a path"
            )
        out["text"] = text
        return out
    if path is not None:
        # A peer's path would let any token holder overwrite the host user's files.
        raise ConfigError(
            "profile_export takes no path: the file goes to the agent's own folder and the "
            "reply says where; ask for inline=true to write it elsewhere yourself"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(engine.wall()))
    try:
        target = write_confined(
            profiles_dir(), f"profile-{os.getpid()}-{stamp}", SUFFIX[format], text
        )
    except OSError as exc:
        raise ConfigError(f"cannot write under {profiles_dir()}: {exc.strerror or exc}") from exc
    out["path"] = str(target)
    return out


def _alloc_start_reads(result: Mapping[str, Any]) -> str:
    return (
        f"tracing allocations (tracebacks {result.get('frames', 1)} frames deep): "
        "the growing lines show in Profile"
    )


@COMMANDS.register(
    "alloc_start",
    "Allocations",
    Arg("frames", int, 10, low=1, high=100),
    describe=_alloc_start_reads,
)
def alloc_start(engine: Engine, frames: int) -> dict[str, Any]:
    """Start tracemalloc (`frames` deep) unless it runs already."""
    state = state_of(engine)
    started = state.alloc.start(frames)
    stats = state._alloc_stats(fresh=True)
    return {
        "tracing": True,
        "started": started,
        "frames": state.alloc.frames,
        "traced": stats.traced if stats else 0,
    }


@COMMANDS.register("alloc_stop", "Stop tracing allocations")
def alloc_stop(engine: Engine) -> dict[str, Any]:
    state = state_of(engine)
    stopped = state.alloc.stop()
    state._alloc_cache = None
    return {"tracing": state.alloc.tracing, "stopped": stopped}


def _alloc_mark_reads(result: Mapping[str, Any]) -> str:
    started = "tracing started; " if result.get("started") else ""
    return f"{started}allocations marked at {fmt_bytes(result.get('traced', 0))} traced"


@COMMANDS.register("alloc_mark", "Allocations", describe=_alloc_mark_reads)
def alloc_mark(engine: Engine) -> dict[str, Any]:
    """Remember the heap now: growth is measured from here."""
    state = state_of(engine)
    started = state.alloc.start() if not state.alloc.tracing else False
    marked_at = state.alloc.mark()
    stats = state._alloc_stats(fresh=True)
    return {"marked_at": marked_at, "started": started, "traced": stats.traced if stats else 0}
