"""The dashboard's benchmark runs and the history file: judged as `tui-perf bench` judges
(pooled last runs, the noise floor, the whole interval; `bench.baseline`), then kept."""

from __future__ import annotations

import socket
from typing import Any

from tui_perf.model.snapshot import BenchResult, Snapshot
from tui_perf.views.history import History


async def judge_and_keep(store: Any, history: History, snap: Snapshot) -> list[str]:
    """Judge each result of `snap` against the history file, attach the verdict to it in
    `history`, and save it. Returns the names that came out slower."""
    from tui_perf.bench.baseline import Sample, judge_against_history
    from tui_perf.bench.runner import split_groups

    host = socket.gethostname()
    rows = await store.bench_runs()
    slower = []
    for result in snap.bench:
        groups = split_groups(result.values, result.sizes)
        current = Sample(groups, list(result.refs) if result.refs else None)
        verdict = judge_against_history(rows, result.name, current, host)
        history.set_verdict(result, verdict.text if verdict else "no baseline yet")
        if verdict is not None and verdict.verdict == "slower":
            slower.append(result.name)
        await store.add_bench_run(
            f"dashboard-{snap.timestamp:.0f}",
            result.name,
            result.group,
            result.loops,
            result.values,
            result.median_s,
            result.stdev_s,
            {"source": "dashboard", "pid": snap.pid, "hostname": host},
            ts=snap.timestamp,
            sizes=result.sizes,
            noise=verdict.noise if verdict else None,
            refs=result.refs,
        )
    return slower


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
