"""The dashboard's benchmark runs and the history file: judged and kept by the benchmark
workflow (`bench.workflow.judge_results`), the one `tui-perf bench` runs."""

from __future__ import annotations

from typing import Any

from tui_perf.model.snapshot import BenchResult, Snapshot
from tui_perf.views.history import History


async def judge_and_keep(store: Any, history: History, snap: Snapshot) -> list[str]:
    """Judge each result of `snap` against the history file, attach the verdict to it in
    `history`, and save it. Returns the names that came out slower."""
    from tui_perf.bench.workflow import judge_results

    outcome = await judge_results(store, snap.bench, pid=snap.pid, timestamp=snap.timestamp)
    for result in snap.bench:
        verdict = outcome.verdicts.get(result.name)
        history.set_verdict(result, verdict.text if verdict else "no baseline yet")
    return outcome.slower


async def load_bench_history(store: Any, history: History) -> bool:
    """Earlier runs from the history file, so the pane starts with its past (the last 20 of
    each benchmark). Returns whether there were any."""
    loaded: dict[str, list[BenchResult]] = {}
    for row in await store.bench_runs():
        loaded.setdefault(row.name, []).append(
            BenchResult(row.name, row.group, row.values, row.loops, row.median_s, row.stdev_s, "")
        )
    for name, results in loaded.items():
        history.bench[name] = results[-20:] + history.bench.get(name, [])
    return bool(loaded)
