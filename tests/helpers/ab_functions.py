"""Two implementations of one thing, importable, for `compare_functions` in fresh processes."""

from __future__ import annotations


def reverse_by_sorting(n: int) -> list[int]:
    return sorted(range(n), key=lambda x: -x)


def reverse_by_range(n: int) -> list[int]:
    return list(range(n - 1, -1, -1))
