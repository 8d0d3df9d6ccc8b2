"""`tui-perf bench`: exit codes, history, baselines, a benchmark that raises, workers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tui_perf.bench.registry import REGISTERED, BenchmarkError, benchmark, load
from tui_perf.bench.runner import RunConfig, measure

BENCH_FILE = """
import os
from tui_perf.bench import benchmark

WORK = int(os.environ.get("WORK", "2000"))

@benchmark(group="demo")
def summing(loops):
    for _ in range(loops):
        sum(range(WORK))

@benchmark()
def plain():
    sorted([3, 1, 2])
"""

BROKEN = """
from tui_perf.bench import benchmark

@benchmark()
def fine(loops):
    for _ in range(loops):
        pass

@benchmark()
def explodes(loops):
    raise ValueError("bad fixture")
"""


def bench(tmp_path: Path, *args: str, work: float = 2000) -> subprocess.CompletedProcess[str]:
    """`tui-perf bench ARGS` in a fresh process, into tmp_path's history; WORK scales files'
    work."""
    env = {**os.environ, "WORK": str(work), "COLUMNS": "160"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "bench",
            *args,
            "--history",
            str(tmp_path / "h.db"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "bench_demo.py"
    path.write_text(BENCH_FILE)
    return path


def test_a_run_is_saved_and_a_slowdown_exits_1(tmp_path: Path, bench_file: Path) -> None:
    first = bench(tmp_path, str(bench_file), "--quick")
    assert first.returncode == 0, first.stderr
    assert "summing" in first.stdout and "no baseline" in first.stdout
    slower = bench(
        tmp_path, str(bench_file), "--quick", "--json", str(tmp_path / "r.json"), work=6000
    )  # three times the work
    assert slower.returncode == 1, slower.stdout + slower.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    summing = next(b for b in data["benchmarks"] if b["name"] == "summing")
    assert summing["verdict"]["verdict"] == "slower" and summing["verdict"]["ratio"] > 1.5
    quick = RunConfig.quick()
    assert len(summing["values"]) == quick.total_values
    assert summing["sizes"] == [quick.values] * quick.processes  # the values by process
    assert len(summing["refs"]) == quick.processes
    assert data["metadata"]["python"] and data["metadata"]["gc_thresholds"]
    tolerant = bench(
        tmp_path,
        str(bench_file),
        "--quick",
        "--baseline",
        data["run_id"],
        "--fail-on-regression",
        "1000",
        work=8000,
    )
    assert tolerant.returncode == 0, tolerant.stdout


def test_a_json_file_can_be_the_baseline(tmp_path: Path, bench_file: Path) -> None:
    out = tmp_path / "base.json"
    assert (
        bench(tmp_path, str(bench_file), "--quick", "--json", str(out), "--no-save").returncode == 0
    )
    again = bench(tmp_path, str(bench_file), "--quick", "--baseline", str(out), work=6000)
    assert again.returncode == 1 and "slower" in again.stdout


def test_a_benchmark_that_raises_is_named_and_the_others_are_saved(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(BROKEN)
    result = bench(tmp_path, str(path), "--quick")
    assert result.returncode == 2
    assert "benchmark explodes failed: ValueError: bad fixture (at broken.py:" in result.stderr
    assert "Traceback" not in result.stderr
    history = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "bench",
            "history",
            "fine",
            "--history",
            str(tmp_path / "h.db"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert [r["name"] for r in json.loads(history.stdout)] == ["fine"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing_file.py"], "no benchmark file at missing_file.py"),
        (["no.such.module"], "no benchmark file or module named 'no.such.module'"),
        (["--processes", "0"], "--processes must be 1 or more"),
        (["--baseline", "absent.json"], "no baseline file at absent.json"),
        (["--baseline", "20990101-000000-ffff", "--filter", "json"], "no benchmark run"),
        (["--filter", "nothing-matches-this"], "no benchmark matches"),
        (["--fail-on-regression", "x"], "invalid float value"),
        (["--baseline", "last:0"], "N in last:N must be a whole number"),
        (["--values", "0"], "--values must be 1 or more"),
        (["--ab", "a", "b"], "--ab needs the file or module"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    if "20990101-000000-ffff" in args:  # a history with some run in it, just not that one
        assert bench(tmp_path, "--quick", "--filter", "json").returncode in (0, 1)
    result = bench(tmp_path, *args)
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_a_malformed_baseline_file_is_refused(tmp_path: Path, bench_file: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": 3}')
    result = bench(tmp_path, str(bench_file), "--quick", "--baseline", str(bad))
    assert result.returncode == 2 and "not a tui-perf bench JSON file" in result.stderr


def test_values_come_from_worker_processes_or_this_one(tmp_path: Path, bench_file: Path) -> None:
    out = tmp_path / "w.json"
    result = bench(
        tmp_path,
        str(bench_file),
        "--quick",
        "--processes",
        "3",
        "--values",
        "4",
        "--filter",
        "summing",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(out.read_text())["benchmarks"]
    assert entry["sizes"] == [4, 4, 4] and not entry["error"]
    here = bench(tmp_path, str(bench_file), "--quick", "--processes", "1", "--json", str(out))
    assert here.returncode == 0, here.stderr
    assert [b["sizes"] for b in json.loads(out.read_text())["benchmarks"]] == [[2], [2]]


def test_export_writes_every_value_as_csv(tmp_path: Path, bench_file: Path) -> None:
    assert bench(tmp_path, str(bench_file), "--quick").returncode == 0
    out = tmp_path / "all.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "bench",
            "export",
            "--format",
            "csv",
            "--output",
            str(out),
            "--history",
            str(tmp_path / "h.db"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    quick = RunConfig.quick()
    assert lines[0].startswith("ts,run_id,name") and len(lines) == 1 + 2 * quick.total_values
    processes = {line.split(",")[5] for line in lines[1:]}
    assert processes == {str(p) for p in range(quick.processes)}  # each value's process


def test_params_expand_and_async_and_plain_functions_run() -> None:
    start = len(REGISTERED)

    @benchmark(name="sized", params={"n": [1, 100]})
    def sized(loops: int, n: int) -> None:
        for _ in range(loops):
            list(range(n))

    @benchmark()
    async def awaiting() -> None:
        await asyncio.sleep(0)

    names = [b.name for b in REGISTERED[start:]]
    assert names == ["sized[n=1]", "sized[n=100]", "awaiting"]
    config = RunConfig(min_time=0.001, values=3, warmups=0)
    for b in REGISTERED[start:]:
        run = measure(b, config)
        assert not run.error and len(run.values) == 3 and run.loops >= 1
    del REGISTERED[start:]


def test_a_benchmark_with_unexplained_parameters_is_refused() -> None:
    with pytest.raises(BenchmarkError, match="unexpected parameters"):
        benchmark()(lambda size: None)


def test_a_file_without_benchmarks_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(BenchmarkError, match="defines no @benchmark"):
        load([str(empty)])


NAMES_FILE = """
from tui_perf.bench import benchmark


@benchmark(name="odd[/x]")
def odd(loops):
    for _ in range(loops):
        pass


@benchmark
def bare(loops):
    for _ in range(loops):
        pass
"""


def test_names_are_text_bare_decorators_work_and_the_last_line_says_why(tmp_path: Path) -> None:
    path = tmp_path / "names.py"
    path.write_text(NAMES_FILE)
    out = tmp_path / "n.json"
    first = bench(tmp_path, str(path), "--quick", "--json", str(out))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "odd[/x]" in first.stdout and "bare" in first.stdout  # not read as markup
    assert [b["name"] for b in json.loads(out.read_text())["benchmarks"]] == ["odd[/x]", "bare"]
    assert first.stdout.strip().splitlines()[-1] == (
        "exit 0: no baseline yet (2 measured, saved for next time)"
    )
    again = bench(tmp_path, str(path), "--quick", "--fail-on-regression", "1000")
    assert again.returncode == 0, again.stdout
    last = again.stdout.strip().splitlines()[-1]
    assert last.startswith("exit 0: nothing slower than the last 5 runs, pooled (")
    assert len(max(again.stdout.splitlines(), key=len)) > 80  # piped: the table is not cut


SCALING = """
import time
from concurrent.futures import ThreadPoolExecutor
from tui_perf.bench import benchmark

@benchmark(params={"workers": [1, 2, 3, 4]})
def waits(loops, workers):
    # 12 waits of 2 ms over `workers` threads: all of it parallel
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(loops):
            list(pool.map(time.sleep, [0.002] * 12))

@benchmark(params={"workers": [1, 2, 3, 4]})
def spins(loops, workers):
    # 12 pure-Python loops over `workers` threads: the GIL runs one at a time
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(loops):
            list(pool.map(lambda n: sum(range(n)), [20_000] * 12))
"""


@pytest.mark.timing  # real threads' wall times: beside two CPU hogs the spin "scaled" 1.6x
def test_a_benchmark_at_several_worker_counts_gets_amdahls_knee(tmp_path: Path) -> None:
    """Real reruns in fresh processes: waiting scales, the GIL-bound loop does not."""
    path = tmp_path / "bench_scaling.py"
    path.write_text(SCALING)
    out = bench(tmp_path, str(path), "--quick", "--no-save")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    waits = next(line for line in lines if "benchmark waits:" in line)
    spins = next(line for line in lines if "benchmark spins:" in line)
    assert "still scaling at 4 workers" in waits, out.stdout
    assert "do not help" in spins, out.stdout


def test_history_and_export_read_the_default_file_and_create_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without `--history` both read the default file (they used to crash on a missing
    attribute); a `--history` that does not exist is one line and exit 2, and is not made."""
    from tui_perf.cli.main import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["bench", "history", "nothing_such"]) == 2
    assert "no history for benchmark 'nothing_such'" in capsys.readouterr().err
    assert main(["bench", "export", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("ts,run_id,name")
    missing = tmp_path / "none.db"
    assert main(["bench", "history", "--history", str(missing)]) == 2
    assert f"no history file at {missing}" in capsys.readouterr().err
    assert not missing.exists()
