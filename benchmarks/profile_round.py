"""Where the sampler's cost goes: `python -m benchmarks.profile_round [SECONDS]`.

A thread computes; a loop beside it waits 10 ms, then samples. Prints, in CPU microseconds of the
sampler's thread a round: the whole round (wake, GIL, sample, sleep), the sample itself
(`Profiler.sample_once`), and the same loop that only wakes and reads
`sys._current_frames()` (the floor of any in-process sampling thread). The profiler
benchmark's cost rows are read against these.
"""

from __future__ import annotations

import sys
import threading
import time

from tui_perf.profile.sampler import Profiler, ProfilerConfig


def busy(stop: threading.Event) -> None:
    while not stop.is_set():
        x = 0
        for i in range(20_000):
            x += i * i


def rounds(seconds: float, sample: bool) -> tuple[float, float, int]:
    """(CPU µs a round in all, CPU µs a round in sample_once, rounds)."""
    profiler = Profiler(ProfilerConfig(rate_hz=100, max_cost=1.0))
    done = threading.Event()
    worker = threading.Thread(target=busy, args=(done,), daemon=True)
    worker.start()
    inside = 0.0
    n = 0
    c0, end = time.thread_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        done.wait(0.01)
        if sample:
            t = time.thread_time()
            profiler.sample_once()
            inside += time.thread_time() - t
        else:
            sys._current_frames()
        n += 1
    whole = time.thread_time() - c0
    done.set()
    worker.join()
    return 1e6 * whole / n, 1e6 * inside / n, n


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    whole, inside, n = rounds(seconds, sample=True)
    floor, _, _ = rounds(seconds, sample=False)
    # a round waits 10 ms and then for the GIL (up to the 5 ms switch interval), so the
    # rate achieved is below 100 Hz; the share of a core is given at 100 rounds a second
    print(f"sampler beside a computing thread, {n / seconds:.0f} rounds a second:")
    print(f"  a round in all        {whole:6.1f} us CPU ({whole / 100:.2f}% of a core at 100 Hz)")
    print(f"  of which the sample   {inside:6.1f} us")
    print(f"  wake-only floor       {floor:6.1f} us CPU ({floor / 100:.2f}% of a core at 100 Hz)")


if __name__ == "__main__":
    main()
