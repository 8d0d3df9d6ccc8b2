"""Choosing what a run is compared with, and the noise floor, from the history's rows.

Pure functions over `BenchRunRow`s: `workflow.Yardstick` reads the rows and hands them here,
for the CLI and the dashboard alike. `--baseline` forms:

- `last:N` (the default, N = 5): the processes of the last N runs of each benchmark, pooled.
  The pool holds N runs' worth of drift, so one lucky or unlucky baseline run cannot decide.
- `latest`: the most recent run; a run id: that run; `FILE.json`: a `bench --json` file.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_perf.bench.compare import Verdict, group_medians, judge, noise_floor, usable_refs
from tui_perf.bench.runner import split_groups
from tui_perf.model.errors import TuiPerfError
from tui_perf.store.history import BenchRunRow

DEFAULT_BASELINE = "last:5"

Groups = list[list[float]]


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    kind: str  # "last", "latest", "run" or "file"
    value: str = ""
    count: int = 0

    @property
    def label(self) -> str:
        return {
            "last": f"the last {self.count} runs, pooled",
            "latest": "the latest run",
            "run": f"run {self.value}",
            "file": self.value,
        }[self.kind]


def parse_baseline(spec: str | None) -> BaselineSpec:
    """`last:N`, `latest`, a run id, or a JSON file; one-line errors for anything else."""
    text = (spec or DEFAULT_BASELINE).strip()
    if text.startswith("last:"):
        count = text[5:]
        if not count.isdigit() or not 1 <= int(count) <= 1000:
            raise TuiPerfError(f"--baseline {text}: N in last:N must be a whole number 1..1000")
        return BaselineSpec("last", count=int(count))
    if text == "latest":
        return BaselineSpec("latest")
    if text.endswith(".json"):
        if not Path(text).is_file():
            raise TuiPerfError(f"no baseline file at {text}")
        return BaselineSpec("file", text)
    if not text:
        raise TuiPerfError("--baseline is empty")
    return BaselineSpec("run", text)


def same_machine(row: BenchRunRow, host: str) -> bool:
    """Runs from another machine say nothing about this one's speed or noise."""
    return str(row.metadata.get("hostname", host)) == host


@dataclass(frozen=True, slots=True)
class Sample:
    """One side of a comparison: values by process, and each process's reference time."""

    groups: Groups
    refs: list[float] | None  # None when any run in it has no reference times

    @classmethod
    def of_rows(cls, rows: Sequence[BenchRunRow]) -> Sample:
        groups = [g for r in rows for g in split_groups(r.values, r.sizes)]
        refs: list[float] | None = [x for r in rows for x in r.refs]
        if refs is not None and len(refs) != len(groups):
            refs = None
        return cls(groups, refs)


@dataclass(frozen=True, slots=True)
class Noise:
    """What history says about one benchmark's run-to-run noise on this machine."""

    raw: float | None  # the floor for raw times; None until MIN_NOISE_RUNS runs
    relative: float | None  # the floor for benchmark / reference
    runs: int

    @property
    def prefer_relative(self) -> bool:
        """Against the reference, unless history shows raw times quieter (a benchmark whose
        time does not follow the machine's CPU speed, such as one waiting on a disk)."""
        return self.relative is not None or self.raw is None

    def floor(self, relative: bool) -> float | None:
        return self.relative if relative else self.raw

    @property
    def shown(self) -> float | None:
        """The floor a comparison with reference times on both sides would use."""
        return self.floor(self.prefer_relative)


def select(
    rows: Sequence[BenchRunRow], spec: BaselineSpec, names: Sequence[str], host: str
) -> dict[str, Sample]:
    """The baseline's values by process, for each of `names` it has."""
    if spec.kind == "file":
        return _from_file(Path(spec.value))
    mine = [r for r in rows if r.name in names and same_machine(r, host)]
    if spec.kind == "latest":
        if not mine:
            return {}
        latest = mine[-1].run_id
        return {r.name: Sample.of_rows([r]) for r in mine if r.run_id == latest}
    if spec.kind == "run":
        chosen = {r.name: Sample.of_rows([r]) for r in mine if r.run_id == spec.value}
        if not chosen:
            raise TuiPerfError(
                f"no benchmark run {spec.value!r} in the history (see 'tui-perf bench history')"
            )
        return chosen
    pooled: dict[str, Sample] = {}
    for name in names:
        runs = [r for r in mine if r.name == name][-spec.count :]
        if runs:
            pooled[name] = Sample.of_rows(runs)
    return pooled


def _relative_median(row: BenchRunRow) -> float | None:
    groups = split_groups(row.values, row.sizes)
    if not usable_refs(groups, row.refs):
        return None
    medians = group_medians(groups, row.refs)
    return statistics.median(medians) if medians else None


def noise_floors(rows: Sequence[BenchRunRow], names: Sequence[str], host: str) -> dict[str, Noise]:
    """Each benchmark's learned noise floors on this machine, raw and against the reference."""
    out = {}
    for name in names:
        mine = [r for r in rows if r.name == name and same_machine(r, host)]
        raw = noise_floor([r.median_s for r in mine])
        relative = noise_floor([m for m in map(_relative_median, mine) if m is not None])
        if relative is not None and raw is not None and raw < relative:
            relative = None  # history says this one does not follow the machine's speed
        out[name] = Noise(raw, relative, len(mine))
    return out


def _from_file(path: Path) -> dict[str, Sample]:
    try:
        data = json.loads(path.read_text())
        out = {}
        for b in data["benchmarks"]:
            if b.get("error"):
                continue
            values = [float(v) for v in b["values"]]
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError("values must be finite times")
            groups = split_groups(values, [int(n) for n in b.get("sizes", [])])
            refs = [float(r) for r in b.get("refs", [])]
            out[b["name"]] = Sample(groups, refs if len(refs) == len(groups) else None)
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TuiPerfError(f"{path} is not a tui-perf bench JSON file ({exc})") from exc


def judge_sample(
    name: str,
    baseline: Sample,
    current: Sample,
    noise: Noise,
    *,
    threshold: float = 0.05,
) -> Verdict | None:
    """`compare.judge` with the form (raw or against the reference) history chose; None when
    a side has nothing usable (rows left with no positive time)."""
    refs = None
    if noise.prefer_relative and baseline.refs is not None and current.refs is not None:
        refs = (baseline.refs, current.refs)
    try:
        return judge(
            name,
            baseline.groups,
            current.groups,
            threshold=threshold,
            noise=noise.floor(refs is not None),
            refs=refs,
        )
    except ValueError:
        return None
