"""Run the benchmarks and write out/<name>.json and out/REPORT.md.

    python benchmarks/run.py              # all of them
    python benchmarks/run.py tick --quick # one, short
    python benchmarks/run.py cache --publish   # update the published results/ (tracked)

A run writes to `benchmarks/out/` (ignored by git), so running never dirties the tree; the
published reference figures in `benchmarks/results/` change only with `--publish`.

Peers are imported from the same environment: `pip install -e ".[bench]"` first.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import PUBLISHED, RESULTS, write_results  # noqa: E402

BENCHMARKS = {
    p.stem.removeprefix("bench_"): p.stem for p in sorted(Path(__file__).parent.glob("bench_*.py"))
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHMARKS],
        metavar="NAME",
        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write to benchmarks/results (tracked) instead of benchmarks/out",
    )
    args = parser.parse_args()
    failed = 0
    for name in args.names or list(BENCHMARKS):
        module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
        print(f"· {name} ...", flush=True)
        try:
            comparisons, extra = module.run(args.quick)
        except RuntimeError as e:  # a peer that is not installed: say so, run the rest
            print(f"  {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        path = write_results(
            name, comparisons, extra, folder=PUBLISHED if args.publish else RESULTS
        )
        for c in comparisons:
            met = {True: "met", False: "MISSED", None: ""}[c.met]
            print(
                f"  {c.benchmark}: {c.ours} vs {c.peer} -> {c.ratio:.2f} "
                f"({c.ratio_means}); goal {c.goal}: {met}"
            )
        print(f"  -> {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
