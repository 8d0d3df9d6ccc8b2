"""The benchmark rule: how many workers pay, from Amdahl's law fitted to the suite's runs.

A benchmark measured at several worker counts (`@benchmark(params={"workers": [1, 2, 4,
8]})`, named `name[workers=N]`) gives a time per count. The fit T(n) = T1 (s + (1 - s)/n)
gives the serial fraction s, so the count past which another doubling saves little, and
the most any count can give (1/s). It reads the last run in the window's snapshots, or
results handed to `worker_findings` directly (`tui-perf bench` does).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

from tui_perf.advice.rules.base import Result, Rule
from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import Window
from tui_perf.bench.stats import AmdahlFit, amdahl_fit
from tui_perf.model.advice import Finding
from tui_perf.model.format import fmt_percent, fmt_seconds
from tui_perf.model.snapshot import BenchResult

_NAME = re.compile(r"^(?P<base>.*)\[(?P<params>[^\]]*)\]$")


def scaling_series(
    results: Sequence[BenchResult], params: Sequence[str]
) -> dict[str, list[tuple[int, float]]]:
    """Benchmark (its name with the worker parameter left out) -> (workers, median time)
    pairs, for results whose name carries one of `params` with a positive integer value."""
    series: dict[str, dict[int, float]] = defaultdict(dict)
    for result in results:
        match = _NAME.match(result.name)
        if match is None or not 0 < result.median_s < math.inf:  # NaN fails both
            continue
        pairs = [p.partition("=") for p in match["params"].split(",")]
        workers = [(k, v) for k, _, v in pairs if k in params and v.isdigit() and int(v) > 0]
        if len(workers) != 1:
            continue
        others = ",".join(f"{k}={v}" for k, _, v in pairs if k != workers[0][0])
        key = f"{match['base']}[{others}]" if others else match["base"]
        series[key][int(workers[0][1])] = result.median_s
    return {k: sorted(v.items()) for k, v in series.items()}


def worker_findings(
    results: Sequence[BenchResult], settings: AdviceSettings | None = None
) -> list[Finding]:
    s = settings or AdviceSettings()
    out = []
    for name, points in scaling_series(results, s.bench_worker_params).items():
        if len(points) < s.bench_min_counts:
            continue  # two counts fit any curve: nothing to judge
        counts, times = [n for n, _ in points], [t for _, t in points]
        fit = amdahl_fit(counts, times)
        if fit.rms_error > s.bench_max_fit_error:
            continue  # the law does not describe these times; a knee from it would mislead
        out.append(_finding(name, counts, times, fit, s))
    return out


def _finding(
    name: str, counts: list[int], times: list[float], fit: AmdahlFit, s: AdviceSettings
) -> Finding:
    # None: the fit found no serial part (all parallel), so no count is a knee: still
    # scaling, not a knee at the largest count measured (which a noisy run's s = 0 gave)
    knee = fit.knee(s.bench_min_doubling_gain)
    best = min(range(len(times)), key=times.__getitem__)
    evidence: tuple[tuple[str, str], ...] = (
        ("workers", " · ".join(map(str, counts))),
        ("median time", " · ".join(fmt_seconds(t) for t in times)),
        ("best measured", f"{times[0] / times[best]:.2f}x at {counts[best]} vs {counts[0]}"),
        ("serial fraction (fitted)", f"{fit.serial:.2f}"),
        ("fit error (rms / mean)", fmt_percent(fit.rms_error)),
    )
    beyond = knee is None or knee > max(counts)
    if knee is None:
        evidence += (("knee", "none: the fit finds no serial part"),)
    elif beyond:
        evidence += (("knee", f"{knee}, past the largest count measured: extrapolated"),)
    limit = "no limit" if fit.serial == 0 else f"at most {fit.max_speedup:.1f}x"
    if knee is not None and knee <= 1:
        severity = "warning" if max(counts) > 1 else "info"
        title = f"benchmark {name}: more workers do not help (serial fraction {fit.serial:.2f})"
        estimate = f"{limit} at any count; one worker does the same work for less"
    elif beyond:
        severity = "info"
        where = "finds no knee" if knee is None else f"puts the knee at {knee} (extrapolated)"
        title = f"benchmark {name}: still scaling at {max(counts)} workers; the fit {where}"
        at = fit.predict(max(counts))
        estimate = f"{fmt_seconds(at)} at {max(counts)} workers ({fit.t1 / at:.1f}x); {limit}"
    else:
        assert knee is not None  # beyond covers None
        severity = "info"
        title = (
            f"benchmark {name}: {knee} workers is the knee; past it each doubling saves "
            f"under {s.bench_min_doubling_gain:.0%}"
        )
        at, twice = fit.predict(knee), fit.predict(2 * knee)
        estimate = (
            f"{fmt_seconds(at)} at {knee} workers ({fit.t1 / at:.1f}x), {fmt_seconds(twice)} "
            f"at {2 * knee} ({1 - twice / at:.0%} less); {limit} at any count"
        )
    return Finding(
        "bench-workers",
        severity,
        title,
        evidence,
        f"last benchmark run ({len(counts)} worker counts)",
        None,  # the worker count lives in the program's code, not in an engine setting
        estimate,
        "Amdahl's law T(n) = T1·(s + (1 - s)/n) fitted by least squares to the median time "
        "at each worker count",
        _confidence(len(counts), fit, beyond, s),
        name,
    )


def _confidence(counts: int, fit: AmdahlFit, beyond: bool, s: AdviceSettings) -> str:
    if beyond:
        return "low"
    return "high" if counts >= 4 and fit.rms_error <= s.bench_max_fit_error / 2 else "medium"


class BenchWorkers(Rule):
    id = "bench-workers"
    description = "the worker count past which the suite's benchmarks stop speeding up"

    def check(self, window: Window) -> Result:
        if not window.snapshots:
            return None
        return worker_findings(window.last.bench, self.settings)
