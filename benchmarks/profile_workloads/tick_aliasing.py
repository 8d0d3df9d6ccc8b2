"""How a periodic loop can alias with the CPU timer's ticks, at 100 Hz.

    python -m benchmarks.profile_workloads.tick_aliasing [SECONDS]

`python_loop` only computes, `clock_reads` makes 1,000 system calls; one round of both is
about 2 ms. The truth is each one's thread CPU time; the sampled share is the CPU-timer
sampler's. Run it a few times: on the machine of `profile_accuracy.md` (Firecracker VM,
kernel 6.18, HZ=250) most runs agree within a few points, and some are far off (24.5%
sampled against 45.4% true). Our reading: the kernel notices an expired CPU timer at its
scheduler tick (every 4 ms here), so the samples fall on that grid, and a loop whose period
divides it is seen at the same few points of its round until the phase drifts. Weights are
each thread's CPU, exact per thread; per function, this is the timer's floor on such a loop.
"""

from __future__ import annotations

import sys
import time

from tui_perf.profile.sampler import Profiler, ProfilerConfig


def python_loop() -> None:
    x = 0
    for i in range(20_000):
        x += i


def clock_reads() -> None:
    for _ in range(1_000):
        time.thread_time()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    truth = {"python_loop": 0.0, "clock_reads": 0.0}
    profiler = Profiler(ProfilerConfig(rate_hz=100, adaptive=False))
    profiler.start()
    end = time.monotonic() + seconds
    clock = time.thread_time
    while time.monotonic() < end:
        t0 = clock()
        python_loop()
        t1 = clock()
        clock_reads()
        t2 = clock()
        truth["python_loop"] += t1 - t0
        truth["clock_reads"] += t2 - t1
    profiler.stop()
    rows = {r.key.function: r.total_s for r in profiler.rows()}
    total_truth, total_sampled = sum(truth.values()), sum(rows.get(f, 0.0) for f in truth)
    for f, spent in truth.items():
        print(
            f"{f:12} truth {100 * spent / total_truth:5.1f}%  "
            f"sampled {100 * rows.get(f, 0.0) / total_sampled:5.1f}%  ({profiler.sampler})"
        )


if __name__ == "__main__":
    main()
