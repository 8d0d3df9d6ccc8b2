"""Timing GC pauses in turns when a program collects thousands of times a second.

CPython calls every `gc.callbacks` entry twice per collection, with a new dict each time:
0.57 µs a collection before the callback does anything. A program making 7,500 young
collections a second pays 0.43% of its time for that alone. Above `above` collections a
second, the controller therefore times pauses for one interval between two readings and
rests for the next `1 / share - 1`: the callback is off while it rests.

Nothing is lost from the counts: `gc.get_stats()` counts every collection per generation.
The time of the collections made while resting is estimated: each generation's count times
the mean of that generation's timed pauses (a generation never timed yet: the longest mean
known, so the estimate errs high). The share of the window in which pauses were timed is
reported beside the figures, so a person knows which are measured and which estimated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence


class PauseTurns:
    """When to time pauses, and the estimated time of the collections made untimed."""

    def __init__(self, above: float | None, share: float) -> None:
        self.above = above
        self.share = share
        #: clock ns until which pauses are not timed; None while they are
        self.resting_until: int | None = None
        #: pause time estimated for the collections made while resting, ns
        self.estimated_ns = 0
        self._last: tuple[int, tuple[int, ...]] | None = None  # (ns, collections per gen)
        self._spans: deque[tuple[int, int, bool]] = deque()  # (from, to, timed) per reading

    @property
    def resting(self) -> bool:
        return self.resting_until is not None

    def step(
        self, now: int, collections: Sequence[int], means: Callable[[], Sequence[float]]
    ) -> bool | None:
        """A reading of the clock and the collections per generation. Returns True when
        timing starts now, False when it stops, None when nothing changes. `means` gives
        each generation's mean timed pause in ns; it is called only after a rest."""
        last = self._last
        self._last = (now, tuple(collections))
        if last is None or now <= last[0]:
            return None
        then, before = last
        made = [max(0, c - b) for c, b in zip(collections, before, strict=False)]
        timed = not self.resting
        self._spans.append((then, now, timed))
        if not timed:
            self.estimated_ns += round(sum(k * m for k, m in zip(made, means(), strict=False)))
        if self.above is None:
            return None
        rate = sum(made) / ((now - then) / 1e9)
        if timed and rate > self.above and self.share < 1:
            self.resting_until = now + round((now - then) * (1 - self.share) / self.share)
            return False
        if not timed and self.resting_until is not None and now >= self.resting_until:
            self.resting_until = None
            return True
        return None

    def timed_share(self, now: int, window_ns: int) -> float:
        """The share of the window (of the part the readings cover) with pauses timed."""
        since = now - window_ns
        while self._spans and self._spans[0][1] <= since:
            self._spans.popleft()
        covered = timed = 0
        for start, end, was_timed in self._spans:
            length = end - max(start, since)
            covered += length
            timed += length if was_timed else 0
        return 1.0 if covered <= 0 else timed / covered


def generation_means(durations: Sequence[int], generations: Sequence[int], n: int) -> list[float]:
    """The mean pause (ns) per generation (0, 1, 2) over the `n` pauses a ring holds; a
    generation with none timed gets the longest mean known (0.0 when none is known)."""
    sums = [0, 0, 0]
    counts = [0, 0, 0]
    for i in range(min(n, len(durations))):
        g = min(2, max(0, generations[i]))
        sums[g] += durations[i]
        counts[g] += 1
    known = [s / c for s, c in zip(sums, counts, strict=True) if c]
    fallback = max(known) if known else 0.0
    return [s / c if c else fallback for s, c in zip(sums, counts, strict=True)]
