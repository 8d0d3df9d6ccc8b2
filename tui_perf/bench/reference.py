"""The machine's speed at the moment: a fixed piece of work timed beside every benchmark.

On a shared machine, the speed of the whole machine wanders from minute to minute (a
neighbour's load, CPU frequency, steal time): measured here, the medians of 30 reruns of
unchanged code had a spread (sd) of 2.6-2.8% while benchmark / reference had 1.3-1.6%. Each
worker process times this reference beside its benchmarks, so a verdict can compare
benchmark / reference, which cancels what the machine did to both.
A worker process takes a few timings after each benchmark and reports the median of all of
them as its reference: single timings of a millisecond are sometimes preempted (one was 20x
the others here), the median of fifteen or more is not moved by a few.
`baseline.noise_floors` keeps the raw comparison where history shows it is the quieter one.
"""

from __future__ import annotations

import statistics
import time

#: calls per value: about 2 to 4 ms on a 2020s CPU
REFERENCE_LOOPS = 20


def _work() -> int:
    # What most Python spends its time on: dicts, lists, strings, a sort, a generator.
    table: dict[str, list[int]] = {}
    for i in range(300):
        table[str(i)] = [i, i * 2]
    total = sum(v[1] for v in table.values())
    return total + len(sorted(table, key=len))


def sample(values: int = 5) -> list[float]:
    """`values` timings of the reference work, seconds per call (each about 1 to 3 ms)."""
    clock = time.perf_counter
    taken = []
    for _ in range(values):
        t0 = clock()
        for _ in range(REFERENCE_LOOPS):
            _work()
        taken.append((clock() - t0) / REFERENCE_LOOPS)
    return taken


def machine_time(values: int = 15) -> float:
    """The median of `values` timings: one preempted timing does not move it."""
    return statistics.median(sample(values))
