"""The history's readers: the row types a query returns (`MemoryPoint`, `ProcessRow`,
`BenchRunRow`) and the SELECTs behind `HistoryStore`'s memory series, events, processes and
benchmark runs, each on a connection it is given.

A benchmark row that is not what the store writes (edited by hand, cut short) is left out
with a warning rather than stopping a verdict or a listing.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_perf.model.snapshot import Event

if TYPE_CHECKING:
    import aiosqlite

log = logging.getLogger("tui_perf.store.history")


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """One point of a memory series; `resolution` 0 is a raw sample, else a bucket width."""

    ts: float
    rss: int
    rss_max: int
    vms: int
    uss: int | None
    cpu_percent: float
    tier: str
    resolution: float
    pid: int = 0  # the process the sample is of (buckets keep it: they never mix processes)


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """A process the history has rows of."""

    pid: int
    started: float
    command: str
    first_seen: float


@dataclass(frozen=True, slots=True)
class BenchRunRow:
    ts: float
    run_id: str
    name: str
    group: str
    loops: int
    median_s: float
    stdev_s: float
    values: tuple[float, ...]
    metadata: dict[str, Any]
    sizes: tuple[int, ...] = ()  # values per process, in order; () for one process
    noise: float | None = None  # the noise floor this run was judged with
    refs: tuple[float, ...] = ()  # each process's reference time (`bench.reference`)


def _pid_filter(sql: str, args: list[Any], pids: Sequence[int] | None) -> str:
    if pids is None:
        return sql
    args.extend(pids)
    return sql + f" AND pid IN ({','.join('?' * len(pids)) or 'NULL'})"


async def memory_series(
    db: aiosqlite.Connection, start: float, end: float, pids: Sequence[int] | None
) -> list[MemoryPoint]:
    sql = (
        "SELECT ts, rss, rss_max, vms, uss, cpu_percent, tier, resolution, pid FROM samples"
        " WHERE ts >= ? AND ts <= ?"
    )
    args: list[Any] = [start, sql_time(end)]
    sql = _pid_filter(sql, args, pids)
    async with db.execute(sql + " ORDER BY ts", args) as cur:
        return [MemoryPoint(*row) for row in await cur.fetchall()]


async def events(
    db: aiosqlite.Connection, start: float, end: float, pids: Sequence[int] | None
) -> list[Event]:
    sql = "SELECT ts, kind, message, level FROM events WHERE ts >= ? AND ts <= ?"
    args: list[Any] = [start, sql_time(end)]
    sql = _pid_filter(sql, args, pids)
    async with db.execute(sql + " ORDER BY ts", args) as cur:
        return [Event(*row) for row in await cur.fetchall()]


async def processes(db: aiosqlite.Connection) -> list[ProcessRow]:
    async with db.execute(
        "SELECT pid, started, command, first_seen FROM processes ORDER BY first_seen"
    ) as cur:
        return [ProcessRow(*row) for row in await cur.fetchall()]


async def bench_runs(
    db: aiosqlite.Connection, start: float, end: float, name: str | None
) -> list[BenchRunRow]:
    sql = (
        "SELECT ts, run_id, name, grp, loops, median_s, stdev_s, vals, metadata, sizes,"
        " noise, refs FROM bench_runs WHERE ts >= ? AND ts <= ?"
    )
    args: list[Any] = [start, sql_time(end)]
    if name is not None:
        sql += " AND name = ?"
        args.append(name)
    async with db.execute(sql + " ORDER BY ts, id", args) as cur:
        rows = await cur.fetchall()
    out = []
    for ts, run_id, n, g, loops, med, sd, vals, meta, sizes, noise, refs in rows:
        row = _bench_row(ts, run_id, n, g, loops, med, sd, vals, meta, sizes, noise, refs)
        if row is not None:
            out.append(row)
    return out


def _bench_row(
    ts: Any,
    run_id: Any,
    name: Any,
    group: Any,
    loops: Any,
    median: Any,
    stdev: Any,
    vals: Any,
    meta: Any,
    sizes: Any,
    noise: Any,
    refs: Any,
) -> BenchRunRow | None:
    """One stored run, or None for a row that is not what we write (edited by hand, cut
    short): it is left out of verdicts and listings rather than stopping them."""
    try:
        values = tuple(float(v) for v in json.loads(vals))
        metadata = json.loads(meta)
        row = BenchRunRow(
            float(ts),
            str(run_id),
            str(name),
            str(group),
            int(loops),
            float(median),
            float(stdev),
            values,
            metadata if isinstance(metadata, dict) else {},
            tuple(int(n) for n in json.loads(sizes)),
            None if noise is None else float(noise),
            tuple(float(r) for r in json.loads(refs)),
        )
        readable = row.median_s > 0 and math.isfinite(row.median_s)
        readable = readable and all(math.isfinite(v) and v >= 0 for v in row.values)
        if not readable:
            raise ValueError("times must be finite, and the median above 0")
    except (TypeError, ValueError):
        log.warning("a benchmark row of %r could not be read; it is left out", name)
        return None
    return row


def sql_time(t: float) -> float:
    """SQLite has no infinity: an open-ended range ends at the largest double instead."""
    return min(t, 1e308)
