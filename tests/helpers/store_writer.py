"""Writes snapshots through HistoryStore forever; prints the count committed after each flush.

Run by the crash-safety test, which kills it with SIGKILL mid-stream.
"""

from __future__ import annotations

import asyncio
import sys

from tui_perf.model.snapshot import MemorySample, Snapshot
from tui_perf.store.history import HistoryStore


async def main(path: str, start: int, batch: int) -> None:
    store = await HistoryStore.open(path, batch_rows=batch, batch_seconds=1e9)
    seq = start
    while True:
        seq += 1
        memory = MemorySample(
            timestamp=float(seq), rss=seq, vms=seq, cpu_percent=0.0, num_threads=1
        )
        before = store.rows_written
        await store.add_snapshot(Snapshot(timestamp=float(seq), pid=1, seq=seq, memory=memory))
        if store.rows_written != before:
            print(start + store.rows_written, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
