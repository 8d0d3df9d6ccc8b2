"""The one benchmark workflow, called directly: a real benchmark file, real worker processes,
a real history file; and the CLI and the dashboard's `b` judging alike against one history."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.test_bench_cli import BENCH_FILE, bench
from tui_perf.bench.outcome import EXIT_OK, EXIT_REGRESSION
from tui_perf.bench.runner import RunConfig
from tui_perf.bench.workflow import BenchRequest, run_and_judge
from tui_perf.model.snapshot import BenchResult
from tui_perf.store.history import HistoryStore
from tui_perf.views.history import History


def saved(path: Path) -> list[tuple[str, str, float, float | None]]:
    """(run_id, name, median, noise) of every benchmark row in the file, oldest first."""
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT run_id, name, median_s, noise FROM bench_runs ORDER BY id"))


def test_a_run_is_judged_against_the_history_and_its_rows_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bench_demo.py"
    path.write_text(BENCH_FILE)
    history = tmp_path / "h.db"
    request = BenchRequest(targets=(str(path),), config=RunConfig.quick(), history=history)
    seen: list[tuple[str, int, int]] = []
    monkeypatch.setenv("WORK", "2000")  # the worker processes read it

    first = run_and_judge(request, lambda *step: seen.append(step))
    assert first.status == EXIT_OK and first.verdicts == {} and first.saved
    assert first.summary(saving=True) == "exit 0: no baseline yet (2 measured, saved for next time)"
    total = 2 * RunConfig.quick().total_values
    assert seen[0][1:] == (0, total) and seen[-1][1:] == (total, total)  # the whole run's count
    rows = saved(history)
    assert [(r[0], r[1]) for r in rows] == [(first.run_id, "summing"), (first.run_id, "plain")]
    assert [r[2] for r in rows] == [run.summary.median for run in first.runs]

    # Ten times the work: beyond what a loaded machine's noise makes unclear in 4 processes.
    monkeypatch.setenv("WORK", "20000")
    slower = run_and_judge(request)
    assert slower.status == EXIT_REGRESSION and "summing" in slower.slower
    verdict = slower.verdicts["summing"]
    assert verdict.ratio > 3 and verdict.text.startswith("slower: +")
    assert slower.summary(saving=True).startswith("exit 1: slower than the last 5 runs, pooled:")
    assert slower.history["summing"] == [r[2] for r in saved(history) if r[1] == "summing"]
    new = [r for r in saved(history) if r[0] == slower.run_id]
    # each row keeps the floor it was judged by: none learned yet from two runs
    assert [(r[1], r[3]) for r in new] == [("summing", None), ("plain", None)]

    unsaved = run_and_judge(dataclasses.replace(request, save=False))
    assert not unsaved.saved and len(saved(history)) == 4  # judged, nothing written
    assert set(unsaved.verdicts) == {"summing", "plain"}


def test_the_cli_and_the_dashboards_b_give_one_verdict_for_one_history(tmp_path: Path) -> None:
    """The same values against the same history file: `tui-perf bench` (a real process) and
    the dashboard's judging of what the engine command sends back say the same thing and
    save the same row."""
    from tui_perf import capabilities
    from tui_perf.dashboard.bench_runs import judge_and_keep
    from tui_perf.engine.core import Engine

    ours = tmp_path / "dashboard.db"
    quick = BenchRequest(filter="cache_hit", config=RunConfig.quick(), history=ours)
    assert run_and_judge(quick).status == EXIT_OK  # the baseline: one real run of the suite's
    shutil.copy(ours, tmp_path / "h.db")  # `bench` writes tmp_path/h.db

    cli = bench(tmp_path, "--filter", "cache_hit", "--quick", "--json", str(tmp_path / "r.json"))
    assert cli.returncode in (EXIT_OK, EXIT_REGRESSION), cli.stderr
    (measured,) = json.loads((tmp_path / "r.json").read_text())["benchmarks"]

    # What the engine command publishes, carrying the values the CLI measured.
    capabilities.load()
    engine = Engine()
    sent = engine.command("run_benchmarks", quick=True, filter="cache_hit")["results"]
    assert [r["name"] for r in sent] == ["cache_hit"]
    (shape,) = engine.tick().bench
    result = BenchResult(
        shape.name,
        shape.group,
        tuple(measured["values"]),
        measured["loops"],
        measured["median"],
        measured["stdev"],
        sizes=tuple(measured["sizes"]),
        refs=tuple(measured["refs"]),
    )
    snap = dataclasses.replace(engine.tick(), bench=(result,))
    pane = History()
    pane.add(snap)  # as the app does when the snapshot arrives

    async def judge() -> list[str]:
        async with await HistoryStore.open(ours) as store:
            return await judge_and_keep(store, pane, snap)

    slower = asyncio.run(judge())
    assert pane.bench["cache_hit"][-1].verdict == measured["verdict"]["text"]
    assert (slower == ["cache_hit"]) == (cli.returncode == EXIT_REGRESSION)
    ((_, name, median, noise),) = [r for r in saved(ours) if r[0].startswith("dashboard-")]
    ((_, *theirs),) = saved(tmp_path / "h.db")[1:]
    assert [name, median, noise] == theirs
