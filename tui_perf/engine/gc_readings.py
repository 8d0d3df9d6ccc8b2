"""Reading the interpreter's garbage collector: its counters as `GCStats`, and what kinds of
objects a program leaves in reference cycles. The controller (gc_control.py) adds what it
measured; an engine watching another process's agent reads these through the snapshot.
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from tui_perf.model.snapshot import GCStats

#: per generation: collections, objects collected, objects uncollectable
GCCounters = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def gc_counters() -> GCCounters:
    """Collections, collected and uncollectable per generation, from `gc.get_stats()`."""
    stats = gc.get_stats()
    return (
        tuple(s.get("collections", 0) for s in stats),
        tuple(s.get("collected", 0) for s in stats),
        tuple(s.get("uncollectable", 0) for s in stats),
    )


def read_gc_stats(
    *,
    counters: GCCounters | None = None,
    **known: Any,
) -> GCStats:
    """The interpreter's own GC counters; `known` adds what a controller measured, and
    `counters` what `gc_counters()` would read, when the caller knows it has not changed."""
    collections, collected, uncollectable = counters if counters is not None else gc_counters()
    return GCStats(
        **known,
        enabled=gc.isenabled(),
        counts=gc.get_count(),
        thresholds=gc.get_threshold(),
        collections=collections,
        collected=collected,
        uncollectable=uncollectable,
        frozen=gc.get_freeze_count(),
    )


def cyclic_garbage_census(limit: int = 15) -> tuple[tuple[str, int], ...]:
    """What kinds of objects the program leaves in reference cycles: (type, count), most first.

    Collects once with `gc.DEBUG_SAVEALL` so the unreachable objects land in `gc.garbage`
    instead of being freed, counts their types, then lets them go and collects again. Nothing
    the program holds is touched; cycles are never "broken" by mutating user objects.
    """
    flags = gc.get_debug()
    already = list(gc.garbage)  # uncollectable objects the program may be inspecting
    gc.garbage.clear()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        counts = Counter(_type_name(o) for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(flags)
        gc.garbage.extend(already)
    gc.collect()  # free what the census held back
    return tuple(counts.most_common(limit))


def _type_name(obj: object) -> str:
    t = type(obj)
    module = t.__module__
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"
