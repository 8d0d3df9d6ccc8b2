"""`SamplerBudget`: the caches' key-stream samplers, all together, under one byte budget.

Each sampler's bytes are estimated from its lengths (`ShardsSampler.nbytes`) when it is
drained, so the total is kept as it changes, not summed over every cache at each tick. Past
the budget, the large samplers shrink first (half their kept stream and rate, each at most
once a pass); if that is not enough, the quietest ones (fewest lookups) are dropped: taken
off their cache for as long as it lives, so it has no curve. Both are counted and reported
in the snapshot (`SamplerMemory`). A pass brings the total to `refill` of the budget, so it
does not run again at the next drain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tui_perf.model.advice import SamplerMemory

#: a few MiB: a busy cache's sampler holds up to about 3.5 MiB (its 20,000-reference stream
#: most of that), a cache of 128 entries under light traffic a few KiB
DEFAULT_BUDGET = 8 * 1024 * 1024
#: a sampler holding more than 1/LARGE_SHARE of the budget is shrunk before any is dropped;
#: below that, the quietest are dropped (at 5,000 caches, shrinking every one took 250 ms)
LARGE_SHARE = 256


class Shrinkable(Protocol):
    def nbytes(self) -> int: ...

    def shrink(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Holder:
    """One sampler as the budget sees it: its key (the tier's id), and how busy its cache
    is (lookups counted at its last drain)."""

    key: int
    sampler: Shrinkable
    lookups: int


class SamplerBudget:
    def __init__(self, limit: int, refill: float = 0.8) -> None:
        self.limit = limit
        self.refill = refill
        self.used = 0
        self._bytes: dict[int, int] = {}
        self._degraded: set[int] = set()
        self._dropped: set[int] = set()

    def update(self, key: int, nbytes: int) -> None:
        self.used += nbytes - self._bytes.get(key, 0)
        self._bytes[key] = nbytes

    def release(self, key: int) -> None:
        self.used -= self._bytes.pop(key, 0)
        self._degraded.discard(key)

    def over(self) -> bool:
        return self.used > self.limit

    def was_dropped(self, key: int) -> bool:
        return key in self._dropped

    def forget_except(self, live: Iterable[int]) -> None:
        """Forget dropped tiers that are gone (their ids may come back on new ones)."""
        if self._dropped:
            self._dropped &= set(live)

    def enforce(self, holders: list[Holder]) -> list[int]:
        """Shrink the largest, then name the quietest to drop (the caller takes their
        samplers off and `release`s them), until the total is `refill` of the limit."""
        target = self.limit * self.refill
        for h in holders:
            self.update(h.key, h.sampler.nbytes())
        large = self.limit / LARGE_SHARE
        for h in sorted(holders, key=lambda h: -self._bytes.get(h.key, 0)):
            if self.used <= target:
                return []
            if self._bytes.get(h.key, 0) < large:
                break  # shrinking thousands of small ones costs a tick and frees little
            if h.sampler.shrink():
                self._degraded.add(h.key)
                self.update(h.key, h.sampler.nbytes())
        remaining = self.used
        drop = []
        for h in sorted(holders, key=lambda h: h.lookups):
            if remaining <= target:
                break
            held = self._bytes.get(h.key, 0)
            if held:
                drop.append(h.key)
                self._dropped.add(h.key)
                remaining -= held
        return drop

    def report(self, samplers: int) -> SamplerMemory:
        return SamplerMemory(
            used=self.used,
            budget=self.limit,
            samplers=samplers,
            holding=sum(1 for b in self._bytes.values() if b),
            degraded=len(self._degraded),
            dropped=len(self._dropped),
        )
