"""Retention: how long history is kept (`Retention`, as data) and the one transaction that
keeps it so (`apply_retention`).

Raw samples older than `raw_seconds` are folded into one row per (pid, bucket) (mean and
max RSS, the worst tier), frames thinned to the first of each bucket, and everything older
than `max_age_seconds` deleted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_perf.store.schema import rollback

if TYPE_CHECKING:
    import aiosqlite


@dataclass(frozen=True, slots=True)
class Retention:
    """How long history is kept, as data."""

    raw_seconds: float = 6 * 3600
    bucket_seconds: float = 60.0
    max_age_seconds: float = 30 * 86400


async def apply_retention(db: aiosqlite.Connection, r: Retention, now: float) -> tuple[int, int]:
    """Fold and expire in one transaction; returns (raw samples folded, rows deleted)."""
    # Fold whole buckets only: a boundary inside a bucket would fold its first part now
    # and the rest later, into a second row at the same timestamp with a wrong mean.
    fold_before = math.floor((now - r.raw_seconds) / r.bucket_seconds) * r.bucket_seconds
    expire_before = now - r.max_age_seconds
    await db.execute("BEGIN")
    try:
        cur = await db.execute("DELETE FROM samples WHERE ts < ?", (expire_before,))
        deleted = cur.rowcount
        cur = await db.execute("DELETE FROM events WHERE ts < ?", (expire_before,))
        deleted += cur.rowcount
        cur = await db.execute("DELETE FROM frames WHERE ts < ?", (expire_before,))
        deleted += cur.rowcount
        # Older frames: the first of each (pid, bucket), as the samples are folded.
        await db.execute(
            """
            DELETE FROM frames WHERE ts < :before AND rowid NOT IN (
                SELECT MIN(rowid) FROM frames WHERE ts < :before
                GROUP BY pid, CAST(ts / :b AS INTEGER))
            """,
            {"b": r.bucket_seconds, "before": fold_before},
        )
        cur = await db.execute(
            "SELECT COUNT(*) FROM samples WHERE resolution = 0 AND ts < ?", (fold_before,)
        )
        row = await cur.fetchone()
        folded = int(row[0]) if row else 0
        # One row per (pid, bucket): mean RSS, peak RSS, the worst tier seen.
        await db.execute(
            """
            INSERT INTO samples (ts, pid, rss, vms, uss, cpu_percent, tier, resolution,
                                 rss_max, gc_pause_p99_ms, cache_hit_rate)
            SELECT CAST(ts / :b AS INTEGER) * :b, pid, CAST(AVG(rss) AS INTEGER),
                   CAST(AVG(vms) AS INTEGER), CAST(AVG(uss) AS INTEGER),
                   AVG(cpu_percent),
                   CASE MAX(CASE tier WHEN 'CRITICAL' THEN 3 WHEN 'HIGH' THEN 2
                                      WHEN 'ELEVATED' THEN 1 ELSE 0 END)
                        WHEN 3 THEN 'CRITICAL' WHEN 2 THEN 'HIGH'
                        WHEN 1 THEN 'ELEVATED' ELSE 'NORMAL' END,
                   :b, MAX(rss_max), MAX(gc_pause_p99_ms), AVG(cache_hit_rate)
            FROM samples WHERE resolution = 0 AND ts < :before
            GROUP BY pid, CAST(ts / :b AS INTEGER)
            """,
            {"b": r.bucket_seconds, "before": fold_before},
        )
        await db.execute("DELETE FROM samples WHERE resolution = 0 AND ts < ?", (fold_before,))
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise
    return folded, deleted
