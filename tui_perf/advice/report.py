"""Findings as text a person reads: the title, the figures, what to do, what to expect and
how that was estimated. `tui-perf advise` prints these; the Advice pane shows them."""

from __future__ import annotations

from tui_perf.model.advice import AdviceStats, Finding


def report_lines(stats: AdviceStats) -> list[str]:
    """The findings as a person reads them: the title, the figures, what to do, what to
    expect and how that was estimated."""
    lines = [
        f"window: {stats.window_s:.0f} s ({stats.snapshots} snapshots), {stats.rules} rules"
        + (f", silenced: {', '.join(stats.silenced)}" if stats.silenced else "")
    ]
    if not stats.findings:
        lines.append(
            "no findings"
            + (
                " (the window is short: rules judge 30 s or more; try --wait 30)"
                if stats.window_s < 30
                else ""
            )
        )
    for f in stats.findings:
        lines += ["", *finding_lines(f)]
    for curve in stats.curves:
        points = " · ".join(f"{100 * r:.0f}% at {s:,}" for s, r in curve.points)
        lines += ["", f"cache {curve.cache} (size {curve.current_size:,}): {points}"]
        if curve.policies:
            best = max(curve.policies, key=lambda p: p[1])
            lines.append(
                "  policies at this size: "
                + " · ".join(f"{p} {100 * r:.0f}%" for p, r in curve.policies)
                + f" (best: {best[0]})"
            )
    lines += [f"note: {n}" for n in stats.notes]
    return lines


def finding_lines(f: Finding) -> list[str]:
    lines = [f"[{f.severity}] {f.title}  ({f.rule})"]
    width = max((len(k) for k, _ in f.evidence), default=0)
    lines += [f"  {k:<{width}}  {v}" for k, v in f.evidence]
    lines.append(f"  measured over the {f.window}")
    if f.action is not None:
        lines.append(f"  do: {f.action.text()}")
    if f.estimate:
        lines.append(f"  expect: {f.estimate}")
    if f.method:
        lines.append(f"  how: {f.method} (confidence {f.confidence})")
    return lines
