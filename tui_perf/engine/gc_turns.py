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

    def __init__(self, above: float | None, share: float, *, min_span_s: float = 0.5) -> None:
        self.above = above
        self.share = share
        #: readings closer than this to the last one are merged into the span under way:
        #: a rate over microseconds means nothing, and the spans kept stay few
        self.min_span_ns = round(min_span_s * 1e9)
        #: clock ns until which pauses are not timed; None while they are
        self.resting_until: int | None = None
        #: pause time estimated for the collections made while resting, ns
        self.estimated_ns = 0
        self._last: tuple[int, tuple[int, ...]] | None = None  # (ns, collections per gen)
        self._spans: deque[tuple[int, int, bool]] = deque()  # (from, to, timed) per span
        self._covered_ns = self._timed_ns = 0  # the spans' lengths, summed as they come and go
        #: clock ns from which the next reading closes a span (callers skip `step` before)
        self.next_ns = 0
        #: untimed spans still kept: while none is, the timed share is 1 (callers skip
        #: `timed_share`)
        self.untimed_spans = 0

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
        if last is not None and now - last[0] < self.min_span_ns:
            return None  # part of the span under way
        self._last = (now, tuple(collections))
        self.next_ns = now + self.min_span_ns
        if last is None:
            return None
        then, before = last
        made = [max(0, c - b) for c, b in zip(collections, before, strict=False)]
        timed = not self.resting
        self._spans.append((then, now, timed))
        self._covered_ns += now - then
        self._timed_ns += now - then if timed else 0
        self.untimed_spans += 0 if timed else 1
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
        spans = self._spans
        while spans and spans[0][1] <= since:
            start, end, was_timed = spans.popleft()
            self._covered_ns -= end - start
            self._timed_ns -= end - start if was_timed else 0
            self.untimed_spans -= 0 if was_timed else 1
        if not spans:
            return 1.0
        start, _, was_timed = spans[0]
        cut = max(0, since - start)  # the part of the oldest span before the window
        covered = self._covered_ns - cut
        timed = self._timed_ns - (cut if was_timed else 0)
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
