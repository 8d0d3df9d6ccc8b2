"""Verdicts on real reruns: processes as the unit, the pooled baseline, the noise floor, A/B.

The rerun tests run a real benchmark file through `tui-perf bench` in fresh processes, as a
CI job does; the statistical error rates on synthetic data are in test_bench_stats.py.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
from pathlib import Path

import pytest

from tests.test_bench_cli import bench
from tui_perf.bench.baseline import (
    Sample,
    judge_sample,
    noise_floors,
    parse_baseline,
    select,
)
from tui_perf.bench.compare import (
    FASTER,
    MIN_NOISE_RUNS,
    SAME,
    SLOWER,
    UNCLEAR,
    UNKNOWN,
    judge,
    mann_whitney_counts,
    noise_floor,
)
from tui_perf.model.errors import TuiPerfError
from tui_perf.store.history import BenchRunRow

HOST = "this-host"

#: two benchmarks of different sizes; WORK scales the work of both
RERUN_FILE = """
import os
from tui_perf.bench import benchmark

WORK = float(os.environ.get("WORK", "1"))
N_SMALL, N_BIG = int(400 * WORK), int(4000 * WORK)


@benchmark()
def small(loops):
    for _ in range(loops):
        sum(i * i for i in range(N_SMALL))


@benchmark()
def big(loops):
    for _ in range(loops):
        sum(i * i for i in range(N_BIG))


def old_way():
    return sorted(range(3000), key=lambda x: -x)


def new_way():
    return list(range(2999, -1, -1))
"""


def row(
    run_id: str,
    name: str,
    groups: list[list[float]],
    refs: list[float] | None = None,
    host: str = HOST,
) -> BenchRunRow:
    values = [v for g in groups for v in g]
    median = sorted(values)[len(values) // 2]
    return BenchRunRow(
        0.0,
        run_id,
        name,
        "g",
        10,
        median,
        0.0,
        tuple(values),
        {"hostname": host},
        tuple(len(g) for g in groups),
        None,
        tuple(refs or ()),
    )


# -- the interval and the floor --------------------------------------------------------


def test_the_interval_is_hodges_lehmann_over_process_medians() -> None:
    # Medians 1.00 1.02 0.98 1.01 1.03 0.99 against 1.10 1.12 1.08 1.11 1.13 1.09.
    base_medians = (1.00, 1.02, 0.98, 1.01, 1.03, 0.99)
    cur_medians = (1.10, 1.12, 1.08, 1.11, 1.13, 1.09)
    base = [[m, 9.0, m] for m in base_medians]  # a wild value moves no median
    cur = [[m] * 3 for m in cur_medians]
    diffs = sorted(math.log(c) - math.log(b) for c in cur_medians for b in base_medians)
    v = judge("x", base, cur)
    assert v.ratio == pytest.approx(math.exp(statistics.median(diffs)))
    # n = m = 6: the exact Mann-Whitney table's two-sided 5% critical U is 5, so the
    # interval runs from the 6th smallest difference to the 6th largest.
    assert (v.ci_low, v.ci_high) == pytest.approx((math.exp(diffs[5]), math.exp(diffs[-6])))
    assert v.processes == (6, 6)


def test_the_exact_mann_whitney_counts_are_the_known_distribution() -> None:
    assert mann_whitney_counts(2, 3) == [1, 1, 2, 2, 2, 1, 1]  # C(5, 2) = 10 orderings
    counts = mann_whitney_counts(6, 30)
    assert sum(counts) == math.comb(36, 6) and counts == counts[::-1]


def test_one_stalled_process_does_not_make_a_verdict() -> None:
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)
    base = [[s] * 3 for s in spread]
    cur = [[s] * 3 for s in spread[:-1]] + [[3.0] * 3]  # a neighbour stalled the sixth
    assert judge("x", base, cur).verdict == UNCLEAR  # not "slower": 6 a side is the edge
    pooled = [[s * (1 + i / 1000)] * 3 for i in range(5) for s in spread]  # last:5
    assert judge("x", pooled, cur).verdict == SAME


@pytest.mark.parametrize(
    ("shift", "noise", "expected"),
    [
        (1.20, 0.03, SLOWER),  # tight interval around +20%: beyond 5%
        (0.80, 0.03, FASTER),
        (1.01, 0.03, SAME),  # inside ±5%
        (1.20, 0.25, SAME),  # +20% is inside this machine's ±25% noise: never a regression
        (1.06, 0.03, UNCLEAR),  # the interval straddles +5%
        (1.07, 0.03, SLOWER),  # beyond 5% once the noise is known to be ±3%
        (1.07, None, SAME),  # ...but until it is learned, a change must clear twice 5%
        (1.12, None, SLOWER),
    ],
)
def test_a_change_is_called_only_when_its_whole_interval_clears_the_floor(
    shift: float, noise: float | None, expected: str
) -> None:
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)
    base = [[s] * 3 for s in spread]
    cur = [[s * shift] * 3 for s in spread]
    v = judge("x", base, cur, noise=noise)
    assert v.verdict == expected, v.text


def test_the_verdict_says_why_in_one_line() -> None:
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)
    v = judge("x", [[s] * 3 for s in spread], [[s * 1.14] * 3 for s in spread], noise=0.03)
    assert v.text.startswith("slower: +14% [+")
    assert v.text.endswith("beyond the 5.0% threshold (noise ±3.0%)")
    noisy = judge("x", [[s] * 3 for s in spread], [[s * 1.3] * 3 for s in spread], noise=0.2)
    assert noisy.text.endswith("beyond noise ±20%")


def test_too_few_processes_for_an_interval_is_unknown() -> None:
    assert judge("x", [[1.0, 1.0]], [[2.0, 2.0]]).verdict == UNKNOWN
    three = [[1.0], [1.01], [0.99]]
    v = judge("x", three, [[2 * x for x in g] for g in three])
    assert v.verdict == UNKNOWN and "no spread to judge by" not in v.why
    pooled = [[1.0], [1.01], [0.99], [1.0], [1.005], [0.995]]
    assert judge("x", pooled * 3, [[1.5], [1.52], [1.49], [1.51]]).verdict == SLOWER


def test_reference_times_cancel_what_the_machine_did_to_both_sides() -> None:
    # The current run's machine ran 12% slower: the benchmark and the reference alike.
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)
    base = [[s] * 3 for s in spread]
    cur = [[s * 1.12] * 3 for s in spread]
    assert judge("x", base, cur).verdict == SLOWER
    refs = ([0.5] * 6, [0.56] * 6)
    v = judge("x", base, cur, refs=refs)
    assert v.verdict == SAME and v.relative and "against the machine's speed" in v.text


def test_the_noise_floor_needs_enough_runs_and_ignores_one_odd_run() -> None:
    assert noise_floor([1.0] * (MIN_NOISE_RUNS - 1)) is None
    steady = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.02, 0.98]
    floor = noise_floor(steady)
    assert floor is not None and 0.01 < floor < 0.08
    assert noise_floor([*steady, 1.60]) == pytest.approx(floor, rel=0.6)  # one real change


# -- baselines from history ------------------------------------------------------------


def test_last_n_pools_the_processes_of_the_last_n_runs_of_each_benchmark() -> None:
    rows = [row(f"r{i}", "a", [[float(i)], [float(i)]]) for i in range(1, 8)]
    rows.append(row("r8", "b", [[9.0]]))
    rows.append(row("elsewhere", "a", [[100.0]], host="another-host"))
    chosen = select(rows, parse_baseline("last:3"), ["a", "b"], HOST)
    assert chosen["a"].groups == [[5.0], [5.0], [6.0], [6.0], [7.0], [7.0]]
    assert chosen["b"].groups == [[9.0]]
    assert select(rows, parse_baseline("latest"), ["a"], HOST)["a"].groups == [[7.0], [7.0]]
    assert select(rows, parse_baseline("r2"), ["a"], HOST)["a"].groups == [[2.0], [2.0]]
    assert parse_baseline(None).count == 5  # the pooled form is the default


@pytest.mark.parametrize("spec", ["last:0", "last:x", "last:", "last:-2", " "])
def test_a_bad_baseline_is_one_line(spec: str) -> None:
    with pytest.raises(TuiPerfError, match="baseline"):
        parse_baseline(spec)


def test_noise_is_learned_per_benchmark_on_this_machine_and_the_quieter_form_wins() -> None:
    # Raw medians wander with the machine (+-6%); against the reference they hold still.
    drift = [1.0, 1.06, 0.94, 1.03, 0.97, 1.05]
    rows = [row(f"r{i}", "cpu", [[d] * 3] * 3, refs=[0.5 * d] * 3) for i, d in enumerate(drift)]
    # A disk-bound one: steady raw, while the reference (CPU) wanders.
    rows += [row(f"r{i}", "disk", [[1.0] * 3] * 3, refs=[0.5 * d] * 3) for i, d in enumerate(drift)]
    noise = noise_floors(rows, ["cpu", "disk", "new"], HOST)
    assert noise["cpu"].prefer_relative and noise["cpu"].shown == pytest.approx(0.0, abs=1e-9)
    assert noise["disk"].prefer_relative is False and noise["disk"].shown == pytest.approx(0.0)
    assert noise["new"].shown is None and noise["new"].runs == 0
    base = select(rows, parse_baseline(None), ["disk"], HOST)["disk"]
    current = Sample([[1.3] * 3] * 3, [0.5] * 3)
    assert judge_sample("disk", base, current, noise["disk"]).relative is False


# -- real reruns in fresh processes ----------------------------------------------------


def _bench(tmp_path: Path, *args: str, work: float = 1.0) -> subprocess.CompletedProcess[str]:
    return bench(tmp_path, *args, work=work)


@pytest.fixture
def rerun_file(tmp_path: Path) -> Path:
    path = tmp_path / "bench_user.py"
    path.write_text(RERUN_FILE)
    return path


def _verdicts(path: Path) -> dict[str, str]:
    return {b["name"]: b["verdict"]["verdict"] for b in json.loads(path.read_text())["benchmarks"]}


def test_reruns_of_unchanged_code_are_never_slower_and_more_work_is(
    tmp_path: Path, rerun_file: Path
) -> None:
    """A/A over real reruns, then a measured slowdown, against the default pooled baseline.

    Quick runs (4 processes) at a 10% threshold keep this inside the test budget; the full
    30-run reliability figures at 5% are `benchmarks/bench_verdicts.py`.
    """
    args = (str(rerun_file), "--quick", "--fail-on-regression", "10")
    for i in range(6):
        out = tmp_path / f"aa{i}.json"
        result = _bench(tmp_path, *args, "--json", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        if i:  # the first has no baseline
            assert SLOWER not in _verdicts(out).values(), result.stdout
    slow = _bench(tmp_path, *args, "--no-save", "--json", str(tmp_path / "s.json"), work=1.6)
    assert slow.returncode == 1, slow.stdout
    assert _verdicts(tmp_path / "s.json") == {"small": SLOWER, "big": SLOWER}
    assert "slower: +" in slow.stdout and "beyond" in slow.stdout


def test_ab_runs_old_and_new_in_alternating_processes(tmp_path: Path, rerun_file: Path) -> None:
    faster = _bench(tmp_path, str(rerun_file), "--quick", "--ab", "old_way", "new_way")
    assert faster.returncode == 0, faster.stdout + faster.stderr
    assert "new_way vs old_way: faster: -" in faster.stdout
    slower = _bench(tmp_path, str(rerun_file), "--quick", "--ab", "new_way", "old_way")
    assert slower.returncode == 1 and "old_way vs new_way: slower: +" in slower.stdout
    missing = _bench(tmp_path, str(rerun_file), "--ab", "old_way", "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"tui-perf: error: no benchmark or function named 'nope' in {rerun_file}"
    )
    assert not (tmp_path / "h.db").exists() or "ab" not in (tmp_path / "h.db").read_bytes().decode(
        "latin-1"
    )


def test_compare_functions_in_processes_and_in_rounds() -> None:
    from tests.helpers import ab_functions
    from tui_perf import compare_functions

    v = compare_functions(
        ab_functions.reverse_by_sorting,
        ab_functions.reverse_by_range,
        2000,
        processes=4,
        min_time=0.01,
    )
    assert v.verdict == FASTER and v.unit == "processes" and v.processes == (4, 4)
    data = list(range(3000))
    w = compare_functions(
        lambda: sorted(data, key=lambda x: -x),
        lambda: sorted(data),
        processes=6,
        min_time=0.005,
    )
    assert w.verdict == FASTER and w.unit == "rounds", w.text
    assert w.text.endswith("beyond the 5.0% threshold")  # no history noise in an A/B


HOSTILE_FILE = """
import os, sys
from tui_perf.bench import benchmark

IN_WORKER = getattr(sys.modules["__main__"].__spec__, "name", "") == "tui_perf.bench.worker"
said = False


@benchmark()
def chatty(loops):
    global said
    if IN_WORKER and not said:  # more than a pipe holds, before any result is written
        sys.stderr.write("x" * 200_000 + "\\n")
        print("and some chatter on stdout")
        said = True
    for _ in range(loops):
        sum(range(100))


@benchmark()
def dies(loops):
    if IN_WORKER:
        os._exit(3)  # takes its whole worker process down


@benchmark()
def after(loops):
    for _ in range(loops):
        sum(range(100))
"""


def test_a_benchmark_that_kills_its_worker_is_named_and_the_others_are_kept(
    tmp_path: Path,
) -> None:
    """Fault injection on the worker processes: a flood on stderr (which used to be able to
    block the worker and the parent on each other), stdout chatter, and `os._exit`."""
    path = tmp_path / "hostile.py"
    path.write_text(HOSTILE_FILE)
    out = tmp_path / "r.json"
    result = _bench(tmp_path, str(path), "--quick", "--json", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "benchmark dies failed: its worker process exited with 3" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert len(result.stderr) < 300  # the flood is cut, not echoed
    runs = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert runs["dies"]["error"] and not runs["dies"]["values"]
    for name in ("chatty", "after"):  # measured in the processes it did not take down
        assert not runs[name]["error"] and len(runs[name]["sizes"]) >= 2, runs[name]


def test_history_rows_edited_by_hand_are_left_out_not_a_traceback(
    tmp_path: Path, rerun_file: Path
) -> None:
    import sqlite3

    assert _bench(tmp_path, str(rerun_file), "--quick").returncode == 0
    assert _bench(tmp_path, str(rerun_file), "--quick").returncode == 0
    with sqlite3.connect(tmp_path / "h.db") as db:
        db.execute("UPDATE bench_runs SET refs = 'not json' WHERE name = 'small'")
        db.execute("UPDATE bench_runs SET median_s = 0, vals = '[]' WHERE name = 'big'")
    again = _bench(tmp_path, str(rerun_file), "--quick")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert again.stdout.strip().splitlines()[-1].startswith("exit 0:")
    nan = tmp_path / "nan.json"
    nan.write_text('{"benchmarks": [{"name": "small", "values": [NaN, 1e-6]}]}')
    refused = _bench(tmp_path, str(rerun_file), "--quick", "--baseline", str(nan))
    assert refused.returncode == 2 and "values must be finite times" in refused.stderr


def test_compare_functions_names_a_function_that_raises() -> None:
    from tui_perf import compare_functions
    from tui_perf.bench.registry import BenchmarkError

    def broken(text: str) -> None:
        raise ValueError("nope")

    with pytest.raises(BenchmarkError, match="broken raised while being timed: ValueError: nope"):
        compare_functions(broken, len, "x", processes=4, min_time=0.001)
