"""The Caches pane's view: one row per cache tier (sortable), the tiers that are down, and a
cache's hit rate over the window."""

from __future__ import annotations

from dataclasses import dataclass

from tui_perf.model.snapshot import CacheStats, Snapshot
from tui_perf.views.history import History, Series, series_of

#: the caches table's sorts, in the order `o` cycles through them
CACHE_SORTS = ("name", "hit rate", "hits", "size", "evictions")


@dataclass(frozen=True, slots=True)
class CacheRow:
    key: str  # "cache/level": stable, so the table updates rows in place
    cache: str
    level: str
    kind: str
    hits: int
    misses: int
    hit_rate: float | None
    size: int
    maxsize: int | None
    evictions: int
    expirations: int
    pinned: bool
    #: "up" or "down" (an L2 tier whose circuit is open), with its errors and why
    state: str = "up"
    errors: int = 0
    reason: str = ""


def cache_rows(caches: tuple[CacheStats, ...], sort: str = "name") -> list[CacheRow]:
    rows = [
        CacheRow(
            f"{c.name}/{t.level}",
            c.name,
            t.level,
            t.kind,
            t.hits,
            t.misses,
            t.hit_rate,
            t.size,
            t.maxsize,
            t.evictions,
            t.expirations,
            c.pinned,
            t.state,
            t.errors,
            t.reason,
        )
        for c in caches
        for t in c.tiers
    ]
    keys = {
        "name": lambda r: (r.cache, r.level),
        "hit rate": lambda r: (-(r.hit_rate if r.hit_rate is not None else -1), r.key),
        "hits": lambda r: (-r.hits, r.key),
        "size": lambda r: (-r.size, r.key),
        "evictions": lambda r: (-r.evictions, r.key),
    }
    return sorted(rows, key=keys.get(sort, keys["name"]))


def tiers_down(rows: list[CacheRow] | tuple[CacheRow, ...]) -> list[str]:
    """One line per tier that is down: which, why, and how many errors so far."""
    return [
        f"{r.level} of {r.cache} ({r.kind}) is down, its lookups are misses: "
        f"{r.reason or 'errors'} · {r.errors:,} errors"
        for r in rows
        if r.state == "down"
    ]


def hit_rate_series(h: History, cache: str) -> Series:
    """The hit rate between consecutive snapshots (hits over lookups in that interval), in %.

    Windowed rather than cumulative, so a change shows as it happens. None where the
    interval saw no lookups.
    """
    snaps = list(h.snapshots)
    values: list[float | None] = []
    previous: CacheStats | None = None
    kept: list[Snapshot] = []
    for snap in snaps:
        current = next((c for c in snap.caches if c.name == cache), None)
        if current is None:
            previous = None
            continue
        if previous is not None:
            lookups = current.lookups - previous.lookups
            hits = current.hits - previous.hits
            values.append(hits / lookups * 100 if lookups > 0 else None)
            kept.append(snap)
        previous = current
    return series_of(kept, values)


def overall_hit_rate(caches: tuple[CacheStats, ...]) -> float | None:
    lookups = sum(c.lookups for c in caches)
    return sum(c.hits for c in caches) / lookups if lookups else None
