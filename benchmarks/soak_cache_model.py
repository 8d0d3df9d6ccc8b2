"""The cache model of #29 (`tests/helpers/cache_model.py`) run for minutes instead of seconds.

The same machine as `tests/test_cache_model.py`: random sequences of set, get, delete,
invalidate_tag, invalidate_prefix, clear, L1 evictions, write-behind flushes, L2 outages,
Redis restarts with and without its data, and a second process reading, every read checked
against a plain dict model. It goes round the tiers (SQLite, Redis) and the scenarios
(plain: one spelling per key and L2 up; aliases: keys equal across types; outages: L2
outages and Redis restarts; full: everything) in rounds of `--examples`
sequences until `--minutes` have passed, and prints the sequences and operations run and
every distinct failure, shrunk, with its steps.

    python benchmarks/soak_cache_model.py              # 10 minutes
    python benchmarks/soak_cache_model.py --minutes 2 --tier sqlite --scenario full
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.helpers.cache_model import CacheModel, ModelEnv, Scenario  # noqa: E402
from tests.helpers.cache_peer import Peer  # noqa: E402
from tests.helpers.redis_server import RedisServer  # noqa: E402

#: the full scenario alone finds mostly the first defect it meets (equal keys are the
#: easiest); aliases and outages apart show each kind of defect on its own
SCENARIOS = {
    "plain": Scenario(aliases=False, outages=False, peer=True),
    "aliases": Scenario(aliases=True, outages=False, peer=True),
    "outages": Scenario(aliases=False, outages=True, peer=True),
    "full": Scenario(aliases=True, outages=True, peer=True),
}


@dataclass
class Tally:
    sequences: int = 0
    steps: int = 0
    rounds: int = 0
    seconds: float = 0.0
    ops: Counter[str] = field(default_factory=Counter)
    #: first line of each distinct failure -> (how many rounds hit it, its shrunk steps)
    failures: dict[str, list[object]] = field(default_factory=dict)


def _failures(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [e for sub in exc.exceptions for e in _failures(sub)]
    return [exc]


def _round(env: ModelEnv, examples: int, steps: int, tally: Tally, *, shrink: bool) -> None:
    phases = [Phase.generate] + ([Phase.shrink] if shrink else [])
    before = (env.sequences, env.steps)
    try:
        run_state_machine_as_test(
            lambda: CacheModel(env),  # type: ignore[arg-type]  # a factory works; the stub says type
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                phases=phases,
                suppress_health_check=list(HealthCheck),
            ),
        )
    except Exception as exc:
        for failure in _failures(exc):
            head = f"{type(failure).__name__}: {str(failure).splitlines()[0]}"
            key = head.split("#")[0][:160]  # the same defect, whatever value it showed
            seen = tally.failures.setdefault(key, [0, head, ""])
            seen[0] = int(str(seen[0])) + 1
            if not seen[2]:
                seen[2] = "\n".join(getattr(failure, "__notes__", []))
    tally.sequences += env.sequences - before[0]
    tally.steps += env.steps - before[1]
    tally.ops.update(env.ops)
    tally.rounds += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tier", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--examples", type=int, default=50, help="sequences per round")
    parser.add_argument("--steps", type=int, default=50, help="operations per sequence at most")
    parser.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    args = parser.parse_args()

    tiers = ["sqlite", "redis"] if args.tier == "both" else [args.tier]
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    workdir = Path(tempfile.mkdtemp(prefix="soak-cache-model-"))
    redis = RedisServer(workdir).start() if "redis" in tiers else None
    peer = Peer()
    tallies = {(t, s): Tally() for t in tiers for s in scenarios}
    deadline = time.monotonic() + args.minutes * 60
    try:
        while time.monotonic() < deadline:
            for (tier, name), tally in tallies.items():
                if time.monotonic() >= deadline:
                    break
                env = ModelEnv(tier, workdir, SCENARIOS[name], redis=redis, peer=peer)
                started = time.monotonic()
                _round(env, args.examples, args.steps, tally, shrink=not args.no_shrink)
                tally.seconds += time.monotonic() - started
    finally:
        peer.close()
        if redis is not None:
            redis.stop()

    print(f"cache model soak: {args.minutes:g} min, rounds of {args.examples} sequences")
    print(f"{'tier':8} {'scenario':9} {'sequences':>10} {'operations':>11} {'s':>7}  failures")
    for (tier, name), t in tallies.items():
        print(
            f"{tier:8} {name:9} {t.sequences:10d} {t.steps:11d} {t.seconds:7.0f}  "
            f"{len(t.failures)} distinct"
        )
    for (tier, name), t in tallies.items():
        print(f"{tier}/{name} operations: " + ", ".join(f"{k} {v}" for k, v in t.ops.most_common()))
    for (tier, name), t in tallies.items():
        for count, head, steps in t.failures.values():
            print(f"\n--- {tier}/{name}, in {count} round(s): {head}\n{steps}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    f"{tier}/{name}": {
                        "sequences": t.sequences,
                        "operations": t.steps,
                        "seconds": round(t.seconds, 1),
                        "by_operation": dict(t.ops.most_common()),
                        "failures": [
                            {"rounds": c, "failure": h, "steps": s}
                            for c, h, s in t.failures.values()
                        ],
                    }
                    for (tier, name), t in tallies.items()
                },
                indent=2,
            )
        )
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
