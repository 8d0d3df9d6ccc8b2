"""What the Advice pane draws, shaped from the latest snapshot's advice section: the
findings as rows (worst first), the selected one's text, and the predicted curve of the
cache it is about (or the first cache with a curve)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_perf.advice.report import finding_lines
from tui_perf.model.advice import AdviceStats, CurveStat, Finding
from tui_perf.model.tune import KEPT, MEASURING, ROLLED_BACK, TuneStats
from tui_perf.views.history import History

SEVERITY_MARK = {"critical": "‼ critical", "warning": "! warning", "info": "· info"}


@dataclass(frozen=True, slots=True)
class FindingRow:
    key: str
    severity: str
    title: str
    action: str


@dataclass(frozen=True, slots=True)
class AdviceView:
    rows: tuple[FindingRow, ...]
    selected: str
    detail: tuple[str, ...]
    curve: CurveStat | None
    #: the line above the table: the window, the rules, what is silenced
    status: str
    #: the action Enter takes for the selected finding, as text ("" when none)
    action: str
    #: the tuner: its state, then its latest trials, newest first ("" lines: none)
    tuning: tuple[str, ...] = ()


def advice_view(history: History, selected: str = "", local: bool = True) -> AdviceView | None:
    """`local`: the source reaches the watched interpreter (the tuner can run there)."""
    latest = history.latest
    if latest is None:
        return None
    stats = latest.advice
    tuning = tuning_lines(latest.tuning, local)
    if stats is None:
        return AdviceView((), "", (), None, "", "", tuning)
    rows = tuple(
        FindingRow(
            f.key,
            SEVERITY_MARK.get(f.severity, f.severity),
            f.title,
            f.action.text() if f.action is not None else "",
        )
        for f in stats.findings
    )
    chosen = _chosen(stats, selected)
    curve = _curve_for(stats, chosen)
    return AdviceView(
        rows,
        chosen.key if chosen is not None else "",
        tuple(finding_lines(chosen)) if chosen is not None else (),
        curve,
        status_line(stats),
        chosen.action.text() if chosen is not None and chosen.action is not None else "",
        tuning,
    )


VERDICT_MARK = {KEPT: "✓ kept", ROLLED_BACK: "↶ rolled back", MEASURING: "… measuring"}


def tuning_lines(stats: TuneStats | None, local: bool, trials: int = 3) -> tuple[str, ...]:
    """The tuner in a few lines: on or off and its profile, what holds it, its last trials."""
    if stats is None:
        if not local:
            return ()
        return ("tuner off · t: try the advice one change at a time, keep what measurably helps",)
    state = "on" if stats.enabled else "off (t turns it on)"
    head = f"tuner {state} · profile {stats.profile} ({stats.why})"
    if stats.enabled and stats.holding:
        head += f" · {stats.holding}"
    lines = [head]
    for t in stats.trials[:trials]:
        mark = VERDICT_MARK.get(t.verdict, f"✗ {t.verdict}")
        lines.append(f"  {mark}  {t.command} · {t.reason}")
    return tuple(lines)


def status_line(stats: AdviceStats) -> str:
    n = len(stats.findings)
    line = (
        f"{n} finding{'' if n == 1 else 's'} · window {stats.window_s:.0f} s "
        f"({stats.snapshots} snapshots) · {stats.rules} rules"
    )
    if stats.silenced:
        line += f" · silenced: {', '.join(stats.silenced)}"
    if stats.window_s < 30:
        line += " · rules judge 30 s or more: the window is filling"
    return line


def _chosen(stats: AdviceStats, selected: str) -> Finding | None:
    for f in stats.findings:
        if f.key == selected:
            return f
    return stats.findings[0] if stats.findings else None


def _curve_for(stats: AdviceStats, finding: Finding | None) -> CurveStat | None:
    if finding is not None:
        for curve in stats.curves:
            if curve.cache == finding.subject:
                return curve
    return stats.curves[0] if stats.curves else None


def curve_points(
    curve: CurveStat,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[tuple[float, str], ...]]:
    """(x, predicted hit rate in %, ticks) for the chart: x is log2 of size over the
    current size, so 0.25x to 16x spread evenly; the ticks name the sizes."""
    here = max(1, curve.current_size)
    xs = tuple(math.log2(max(1, s) / here) for s, _ in curve.points)
    ticks = tuple((x, f"{s:,}") for x, (s, _) in zip(xs, curve.points, strict=True))
    return xs, tuple(100 * r for _, r in curve.points), ticks
