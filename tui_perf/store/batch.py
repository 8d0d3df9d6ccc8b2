"""The write side of the history: rows queued in memory (`Batch`) and written in one
transaction (`insert_batch`), and a benchmark run written at once (`insert_bench_run`).

`HistoryStore` decides when a batch is flushed; this module only says what a snapshot
becomes as rows and how they reach the file. Frames ride with their snapshot's sample row,
so they are not counted in `Batch.pending`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.store.frames import FrameKeeper, encode
from tui_perf.store.schema import rollback

if TYPE_CHECKING:
    import aiosqlite

Frame = tuple[float, int, str, bytes]


@dataclass(slots=True)
class Batch:
    """Rows waiting for the next flush: samples, events, processes first seen, and frames."""

    keeper: FrameKeeper
    samples: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    processes: list[tuple[Any, ...]] = field(default_factory=list)  # (pid, started, cmd, seen)
    frames: list[Frame] = field(default_factory=list)
    seen_pids: set[int] = field(default_factory=set)

    @property
    def pending(self) -> int:
        return len(self.samples) + len(self.events)

    def add_snapshot(self, snap: Snapshot) -> None:
        """A snapshot's memory figures and events, and the whole snapshot when the frame
        policy keeps it."""
        m = snap.memory
        hit_rates = [c.hit_rate for c in snap.caches if c.hit_rate is not None]
        self.samples.append(
            (
                snap.timestamp,
                snap.pid,
                m.rss,
                m.vms,
                m.uss,
                m.cpu_percent,
                snap.tier,
                0.0,
                m.rss,
                snap.gc.pause_p99_ms if snap.gc else None,
                sum(hit_rates) / len(hit_rates) if hit_rates else None,
            )
        )
        self.events.extend((e.timestamp, e.kind, e.level, e.message, snap.pid) for e in snap.events)
        if self.keeper.keep(snap):
            self.frames.append((snap.timestamp, snap.pid, snap.tier, encode(snap)))
        if snap.pid not in self.seen_pids:
            self.seen_pids.add(snap.pid)
            self.processes.append((snap.pid, *_process_identity(snap.pid, snap.timestamp)))

    def add_event(self, event: Event, pid: int | None) -> None:
        self.events.append((event.timestamp, event.kind, event.level, event.message, pid))

    def take(self) -> Batch:
        """The queued rows, leaving this batch empty (the pids seen stay)."""
        taken = Batch(self.keeper, self.samples, self.events, self.processes, self.frames)
        self.samples, self.events, self.processes, self.frames = [], [], [], []
        return taken

    def put_back(self, taken: Batch) -> None:
        """Rows a failed flush took, ahead of any queued since, for the next attempt."""
        self.samples[:0], self.events[:0] = taken.samples, taken.events
        self.processes[:0], self.frames[:0] = taken.processes, taken.frames


def _process_identity(pid: int, now: float) -> tuple[float, str, float]:
    """(start time, command line, first seen) of a process, read once when it first appears;
    a process out of reach (gone, another host) is ("now", "?")."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.create_time(), " ".join(proc.cmdline())[:500] or proc.name(), now
    except (psutil.Error, OSError):
        return now, "?", now


async def insert_batch(db: aiosqlite.Connection, batch: Batch) -> None:
    await db.execute("BEGIN")
    try:
        await db.executemany(
            "INSERT INTO samples (ts, pid, rss, vms, uss, cpu_percent, tier, resolution,"
            " rss_max, gc_pause_p99_ms, cache_hit_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            batch.samples,
        )
        await db.executemany(
            "INSERT INTO events (ts, kind, level, message, pid) VALUES (?,?,?,?,?)",
            batch.events,
        )
        await db.executemany(
            "INSERT OR IGNORE INTO processes (pid, started, command, first_seen) VALUES (?,?,?,?)",
            batch.processes,
        )
        await db.executemany(
            "INSERT INTO frames (ts, pid, tier, body) VALUES (?,?,?,?)", batch.frames
        )
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise


async def insert_bench_run(
    db: aiosqlite.Connection,
    run_id: str,
    name: str,
    group: str,
    loops: int,
    values: Sequence[float],
    median_s: float,
    stdev_s: float,
    metadata: dict[str, Any],
    ts: float | None,
    sizes: Sequence[int],
    noise: float | None,
    refs: Sequence[float],
) -> None:
    await db.execute(
        "INSERT INTO bench_runs (ts, run_id, name, grp, loops, median_s, stdev_s, vals,"
        " metadata, sizes, noise, refs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            time.time() if ts is None else ts,
            run_id,
            name,
            group,
            loops,
            median_s,
            stdev_s,
            json.dumps(list(values)),
            json.dumps(metadata, sort_keys=True),
            json.dumps(list(sizes)),
            noise,
            json.dumps(list(refs)),
        ),
    )
