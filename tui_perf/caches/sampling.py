"""Where a key falls for spatial sampling (SHARDS): the same key, the same spot, in
[0, MODULUS). A tier follows the keys whose spot is under its sampler's threshold; the
sampler itself (`tui_perf.advice.mrc`) lives with the advice that reads it."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

MODULUS = 1 << 24
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads Python's identity hash of ints
_MASK = (1 << 64) - 1


def spatial_hash(key: Hashable) -> int:
    return ((hash(key) * _MIX) & _MASK) >> 40


class KeySampler(Protocol):
    """What a tier needs of a key-stream sampler."""

    threshold: int

    def add(self, h: int, now: float, seen: int) -> None:
        """A lookup of a key whose spot `h` is under the threshold, at `now`, the
        `seen`-th lookup of the tier."""
