"""Whole snapshots ("frames") kept beside the 1 Hz memory samples, so a session can be replayed.

A frame is a `Snapshot` as JSON, compressed. Keeping every one would cost about 2 KB a
second for a program with a few caches; a frame is kept every `every_s` seconds instead, and
also whenever something a person would step to happens: the tier changes, the ladder ran
(cleanup reports), or benchmark results arrived. Events are not kept in frames: the events
table has every one of them, and replay reads them from there.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from dataclasses import dataclass

from tui_perf.model.errors import SnapshotFormatError
from tui_perf.model.snapshot import Snapshot

#: zlib level: 6 takes a 2-3 KB demo snapshot to about a fifth in ~50 µs
_LEVEL = 6
#: the most a frame may inflate to: a demo frame is about 2 KB, one with every section
#: full some hundreds of KB
MAX_FRAME = 16 << 20


@dataclass(frozen=True, slots=True)
class FramePolicy:
    """When a snapshot is kept whole, as data."""

    every_s: float = 5.0


class FrameKeeper:
    """Decides, per process, which snapshots are kept whole."""

    def __init__(self, policy: FramePolicy | None = None) -> None:
        self.policy = policy or FramePolicy()
        self._last: dict[int, tuple[float, str]] = {}  # pid -> (ts, tier) of the last kept

    def keep(self, snap: Snapshot) -> bool:
        last = self._last.get(snap.pid)
        keep = (
            last is None
            or snap.timestamp - last[0] >= self.policy.every_s
            or snap.timestamp < last[0]  # the clock went back: start again from here
            or snap.tier != last[1]
            or bool(snap.cleanups)
            or bool(snap.bench)
        )
        if keep:
            self._last[snap.pid] = (snap.timestamp, snap.tier)
        return keep


def encode(snap: Snapshot) -> bytes:
    """The snapshot without its events, as compressed JSON."""
    body = json.dumps(dataclasses.replace(snap, events=()).to_dict(), separators=(",", ":"))
    return zlib.compress(body.encode(), _LEVEL)


def decode(blob: bytes) -> Snapshot:
    """Raises `SnapshotFormatError` for a damaged or foreign frame, or one that would
    inflate past `MAX_FRAME` (a history file is data, not something to trust with memory)."""
    try:
        inflater = zlib.decompressobj()
        body = inflater.decompress(blob, MAX_FRAME)
        if inflater.unconsumed_tail:
            raise SnapshotFormatError(f"a frame larger than {MAX_FRAME >> 20} MiB")
        data = json.loads(body)
    except SnapshotFormatError:
        raise
    except (zlib.error, ValueError, TypeError, RecursionError) as exc:  # nested 100,000 deep
        raise SnapshotFormatError(f"a damaged frame ({exc})") from exc
    return Snapshot.from_dict(data)
