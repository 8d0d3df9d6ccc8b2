"""The Profile pane's view: the sampler's state and cost in one line, the functions by own
or total time, the `@profile` timings and the allocation sites."""

from __future__ import annotations

from dataclasses import dataclass

from tui_perf.model.snapshot import AllocStats, ProfileStats, TimingStat
from tui_perf.views.history import History

PROFILE_SORTS = ("own", "total")


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """One function as `py-spy top` shows it; shares are of the sampled running time."""

    own_share: float
    total_share: float
    own_s: float
    total_s: float
    function: str
    where: str


@dataclass(frozen=True, slots=True)
class ProfileView:
    #: "sampling 100 Hz · cost 0.4% of a core", or why nothing is sampled
    status: str
    rows: tuple[ProfileRow, ...]
    timings: tuple[TimingStat, ...]
    alloc: AllocStats | None
    notes: tuple[str, ...]


def sampler_summary(sampler: str, mode: str, target_hz: float, achieved_hz: float) -> str:
    """Which sampler ran, the rate asked for and how it was held, and the rate achieved:
    "CPU-timer sampler, 100 Hz fixed, achieved 97 Hz of CPU time"."""
    name = {"cpu-timer": "CPU-timer", "thread": "thread"}.get(sampler, sampler or "thread")
    how = "at most" if mode == "adaptive" else "fixed"
    asked = f"{target_hz:.0f} Hz {how}" if how == "fixed" else f"{how} {target_hz:.0f} Hz"
    per = "CPU time" if sampler == "cpu-timer" else "wall time"
    return f"{name} sampler, {asked}, achieved {achieved_hz:.0f} Hz of {per}"


def profile_status(p: ProfileStats | None) -> str:
    """The profiler's state and its measured cost, in one line."""
    if p is None or not (p.running or p.samples or p.idle_samples):
        return "sampler off · press p to sample the watched process"
    cost = f"cost {p.cost_fraction * 100:.1f}% of a core"
    clock = "CPU time" if p.clock == "cpu" else "wall time"
    if p.sampler:
        head = sampler_summary(p.sampler, p.mode, p.target_hz, p.achieved_hz)
        head = head if p.running else f"stopped · {head}"
    else:  # a snapshot from before #31
        head = f"sampling {p.rate_hz:.0f} Hz" if p.running else "stopped"
    if p.running and p.rate_hz < p.target_hz:
        head += f" (adapted down to {p.rate_hz:.0f} Hz)"
    return (
        f"{head} · {cost} · {p.samples} samples over {p.duration_s:.0f} s, "
        f"{p.idle_samples} idle hidden · {clock}"
    )


def profile_rows(p: ProfileStats | None, sort: str = "own") -> list[ProfileRow]:
    """Functions sorted by own or total time, with their shares of the running time."""
    if p is None or p.active_s <= 0:
        return []
    rows = [
        ProfileRow(
            f.own_s / p.active_s,
            min(1.0, f.total_s / p.active_s),
            f.own_s,
            f.total_s,
            f.function,
            f"{_short_path(f.file)}:{f.line}" if f.file else "",
        )
        for f in p.functions
    ]
    key = (
        (lambda r: (-r.own_s, -r.total_s)) if sort == "own" else (lambda r: (-r.total_s, -r.own_s))
    )
    rows.sort(key=key)
    return rows


def _short_path(path: str, keep: int = 2) -> str:
    """The last `keep` parts of a path: the table has room for where, not for all of it."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-keep:])


def profile_view(h: History, sort: str = "own") -> ProfileView:
    latest = h.latest
    p = latest.profile if latest is not None else None
    return ProfileView(
        status=profile_status(p),
        rows=tuple(profile_rows(p, sort)),
        timings=p.timings if p is not None else (),
        alloc=p.alloc if p is not None else None,
        notes=p.notes if p is not None else (),
    )
