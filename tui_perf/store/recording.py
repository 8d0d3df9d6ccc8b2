"""A recorded session of one process, read from a history file for replay.

Read-only and synchronous (the replay source calls it from a worker thread): opening reads
only the timeline (each frame's time and tier, and the events), so a day of history opens
in well under a second; the frames themselves are decoded on demand, the recent ones kept.
"""

from __future__ import annotations

import sqlite3
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from tui_perf.model.errors import HistoryFileError, SnapshotFormatError
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.store.frames import decode
from tui_perf.store.schema import refuse_non_regular

#: decoded frames kept (a 10-minute window at one frame per 5 s is 120)
_DECODED = 512


#: rows a run could have written: an integer pid, a time between 1970 and 5000 (a file is
#: data: a text time or one of 1e300 would fail far from here, in a clock formatter)
#: an event stamped this soon after a frame came from that frame's own tick (the snapshot's
#: time is taken as the tick starts, its events' a few ms later): the frame shows it
SAME_TICK_S = 0.5
_SANE_TS = "typeof(ts) IN ('integer', 'real') AND ts BETWEEN 0 AND 1e11"
_SANE = f"typeof(pid) = 'integer' AND {_SANE_TS}"


@dataclass(frozen=True, slots=True)
class RecordedProcess:
    """A process the history file has frames of."""

    pid: int
    command: str
    frames: int
    first: float
    last: float


class Recording:
    """The frames and events of one process between `start` and `end`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        process: RecordedProcess,
        start: float,
        end: float,
    ) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # one query at a time on the one connection
        self.path = path
        self.process = process
        rows = conn.execute(
            f"SELECT rowid, ts, tier FROM frames WHERE pid = ? AND ts >= ? AND ts <= ? AND {_SANE}"
            " ORDER BY ts",
            (process.pid, start, end),
        ).fetchall()
        self._rowids = [int(r[0]) for r in rows]
        #: each frame's time, ascending, and its tier: the timeline
        self.times = [float(r[1]) for r in rows]
        self.tiers = [r[2] if isinstance(r[2], str) else "" for r in rows]
        # Events of this process, and those kept with no process (the dashboard's own notes).
        self.events = [
            Event(*row)
            for row in conn.execute(
                "SELECT ts, kind, message, level FROM events WHERE (pid = ? OR pid IS NULL)"
                f" AND ts >= ? AND ts <= ? AND {_SANE_TS} AND typeof(kind) = 'text'"
                " AND typeof(message) = 'text' AND typeof(level) = 'text' ORDER BY ts",
                (process.pid, start, end),
            )
        ]
        self._event_times = [e.timestamp for e in self.events]
        self._decoded: OrderedDict[int, Snapshot] = OrderedDict()
        #: frames that could not be read (damaged, or from a newer tui-perf), skipped
        self.damaged = 0

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        pid: int | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> Recording:
        """Open `path` read-only; raises `HistoryFileError` with a one-line reason."""
        if not path.exists():
            raise HistoryFileError(f"no history file at {path}")
        refuse_non_regular(path)
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            processes = _processes(conn)
        except sqlite3.DatabaseError as exc:
            raise HistoryFileError(
                f"{path} is not a readable tui-perf history file ({exc})"
            ) from exc
        if not processes:
            conn.close()
            raise HistoryFileError(
                f"{path} holds no recorded session to replay (files from before replay keep "
                "memory samples only: 'tui-perf history' prints them)"
            )
        if pid is None:
            process = max(processes, key=lambda p: p.last)
        else:
            found = [p for p in processes if p.pid == pid]
            if not found:
                conn.close()
                known = ", ".join(f"{p.pid} ({p.command or '?'})" for p in processes[-5:])
                raise HistoryFileError(f"no frames of pid {pid} in {path}; recorded: {known}")
            process = found[0]
        lo = process.first if start is None else start
        hi = process.last if end is None else end
        try:
            recording = cls(conn, path, process, lo, hi)
        except sqlite3.DatabaseError as exc:  # a table missing or of another shape
            conn.close()
            raise HistoryFileError(
                f"{path} is not a readable tui-perf history file ({exc})"
            ) from exc
        if not recording.times:
            conn.close()
            raise HistoryFileError(
                f"no frames of pid {process.pid} between the times given (it was recorded "
                f"from {_hms(process.first)} to {_hms(process.last)})"
            )
        return recording

    def __len__(self) -> int:
        return len(self.times)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- reading ---------------------------------------------------------------------

    def frames(self, lo: int, hi: int) -> list[Snapshot]:
        """Frames lo..hi-1 that can be read, oldest first."""
        lo, hi = max(0, lo), min(len(self.times), hi)
        wanted = self._rowids[lo:hi]
        missing = [r for r in wanted if r not in self._decoded]
        if missing:
            wanted_set = set(missing)
            with self._lock:  # by time, as the index reads it; no limit on how many
                rows = self._conn.execute(
                    "SELECT rowid, body FROM frames WHERE pid = ? AND ts >= ? AND ts <= ?",
                    (self.process.pid, self.times[lo], self.times[hi - 1]),
                ).fetchall()
            for rowid, body in rows:
                if rowid not in wanted_set:
                    continue
                if not isinstance(body, bytes):  # NULL, text, a number: not a frame
                    self.damaged += 1
                    continue
                try:
                    self._decoded[int(rowid)] = decode(body)
                except SnapshotFormatError:
                    self.damaged += 1
            while len(self._decoded) > _DECODED:
                self._decoded.popitem(last=False)
        out = []
        for rowid in wanted:
            snap = self._decoded.get(rowid)
            if snap is not None:
                self._decoded.move_to_end(rowid)
                out.append(snap)
        return out

    def window(self, index: int, span_s: float) -> list[Snapshot]:
        """The frames of the `span_s` seconds that end at frame `index`."""
        lo = bisect_left(self.times, self.times[index] - span_s)
        return self.frames(lo, index + 1)

    def events_until(self, ts: float, limit: int = 1000) -> list[Event]:
        """The last `limit` events a frame at `ts` shows (those of its own tick included)."""
        hi = bisect_right(self._event_times, ts + SAME_TICK_S)
        return self.events[max(0, hi - limit) : hi]

    def index_at(self, ts: float) -> int:
        """The last frame at or before `ts` (the first frame when `ts` is before them all)."""
        return max(0, bisect_right(self.times, ts) - 1)

    def event_after(self, ts: float) -> Event | None:
        i = bisect_right(self._event_times, ts + SAME_TICK_S)
        return self.events[i] if i < len(self.events) else None

    def event_at_or_before(self, ts: float) -> Event | None:
        i = bisect_right(self._event_times, ts + SAME_TICK_S)
        return self.events[i - 1] if i > 0 else None

    def first_showing(self, event: Event) -> int:
        """The first frame at or after the event: the one that shows what it did."""
        return min(len(self.times) - 1, bisect_left(self.times, event.timestamp - SAME_TICK_S))


def _processes(conn: sqlite3.Connection) -> list[RecordedProcess]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "frames" not in tables:
        return []
    commands: dict[int, str] = {}
    if "processes" in tables:  # the latest command of a reused pid wins
        for pid, command in conn.execute(
            "SELECT pid, command FROM processes WHERE typeof(pid) = 'integer' ORDER BY first_seen"
        ):
            commands[int(pid)] = str(command)
    return [
        RecordedProcess(int(pid), commands.get(int(pid), ""), int(n), float(lo), float(hi))
        for pid, n, lo, hi in conn.execute(
            f"SELECT pid, COUNT(*), MIN(ts), MAX(ts) FROM frames WHERE {_SANE}"
            " GROUP BY pid ORDER BY MAX(ts)"
        )
    ]


def _hms(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
