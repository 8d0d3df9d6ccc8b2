"""`WriteQueue`: a cache's write-behind queue and the contract it keeps.

Writes are durable on `close()`, on garbage collection of the cache, and on normal
interpreter exit: a `weakref.finalize` on the cache flushes the queue in both of the last two
cases, and it first waits for a batch the flusher thread has in flight (the flush lock), so
an exit in the middle of a batch loses nothing. On SIGTERM, `sigterm.py`'s handler writes
the queue (`write_now`) before the process ends. Only a crash or SIGKILL may lose writes: at
most the queue, which holds at most `max_pending` entries (the oldest are dropped past that,
and counted).

Deletes win. A delete or invalidation removes the key from the queue, and one that happens
while a batch is being written is replayed on L2 right after that batch, so the flusher can
never write an old value back over it.

Reads see their writes. `get` answers from the queue, then from the batch in flight (taken
from the queue but not yet written), so a read never falls through to L2's older value; a
key whose write in flight was invalidated is `DROPPED` until the replay has run, since L2
may hold that write for a moment.

The queue holds no reference to its cache: the flusher thread and the finalizer hold the
queue, so the cache itself can be collected.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_perf.caches.l2 import Item

if TYPE_CHECKING:
    from tui_perf.caches.breaker import GuardedTier

log = logging.getLogger(__name__)

#: an invalidation to replay on L2: ("key" | "prefix" | "tag" | "clear", its argument)
Invalidation = tuple[str, str]


class Dropped(enum.Enum):
    """What `get` says of a key whose write in flight was invalidated: a miss, without L2."""

    DROPPED = "dropped"


DROPPED = Dropped.DROPPED


class WriteQueue:
    """Queued L2 writes, newest value per key, flushed in batches by one writer at a time."""

    def __init__(
        self,
        l2: GuardedTier,
        *,
        owner: str,
        batch_size: int,
        flush_interval: float,
        max_pending: int,
    ) -> None:
        self.l2 = l2
        self.owner = owner
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.pending: dict[str, Item] = {}
        self.dropped = 0  # over max_pending: the oldest queued writes, lost
        # Reentrant: SIGTERM's handler (sigterm.py) runs on the main thread, which it may
        # have interrupted inside either lock; it must still write the queue.
        self._lock = threading.RLock()  # the queue
        self._flush_lock = threading.RLock()  # one batch in flight at a time
        self._in_flight = False
        # the batch in flight, by key: for reads, and for a write from a signal handler
        self._taken: dict[str, Item] = {}
        self._dropped: set[str] = set()  # keys of the batch invalidated before its replay
        self._replay: list[Invalidation] = []
        self.closed = threading.Event()
        #: told the keys of each batch written to L2 (coherence: other processes drop their
        #: L1 copies when the new value is there to be read, not before)
        self.on_written: Callable[[list[str]], None] | None = None
        self._thread = threading.Thread(
            target=self._loop, name=f"tui-perf-cache-{owner}", daemon=True
        )
        self._thread.start()
        # SIGTERM (kill, docker stop, systemctl stop) would skip the exit hooks that write
        # the queue; sigterm.py makes it end the process as a normal exit does.
        from tui_perf.caches import sigterm

        sigterm.watch(self)

    # -- the queue ---------------------------------------------------------------------

    def put(self, item: Item) -> bool:
        """Queue a write; True when a batch is full (the caller flushes)."""
        lost: list[str] = []
        with self._lock:
            self.pending.pop(item[0], None)  # a newer value replaces the queued one...
            self.pending[item[0]] = item  # ...and moves to the back
            while len(self.pending) > self.max_pending:
                key = next(iter(self.pending))
                del self.pending[key]
                lost.append(key)
                self.dropped += 1
            full = len(self.pending) >= self.batch_size
        # A write lost here had replaced what L2 holds: that older value must not come back
        # (L2 down: a tombstone, applied before L2 is read again).
        for key in lost:
            self.l2.delete(key)
        return full

    def get(self, key: str) -> Item | Dropped | None:
        """The write L2 will have for `key`: queued, or in flight; `DROPPED` when its write
        in flight was invalidated (L2 may hold it until the replay); None: ask L2."""
        with self._lock:
            item = self.pending.get(key)
            if item is None:
                item = self._taken.get(key)
                if item is None and key in self._dropped:
                    return DROPPED
            return item

    def invalidate(self, kind: str, arg: str, drop: Callable[[Item], bool]) -> int:
        """Remove queued and in-flight items `drop` selects; remember the invalidation if a
        batch is out (to replay after it); returns how many were removed."""
        with self._lock:
            queued = [k for k, item in self.pending.items() if drop(item)]
            for k in queued:
                del self.pending[k]
            flying: list[str] = []
            if self._in_flight:
                self._replay.append((kind, arg))
                flying = [k for k, item in self._taken.items() if drop(item)]
                for k in flying:
                    del self._taken[k]
                self._dropped.update(flying)
        # A dropped write had replaced what L2 holds for its key, which the invalidation
        # may not cover (a tag the older value never had): that value goes too (found by
        # the cache model). Outside the lock: L2 may be slow; a failure leaves a tombstone.
        for k in queued:
            self.l2.delete(k)
        return len(queued) + len(flying)

    def _take(self) -> list[Item]:
        with self._lock:
            items = list(self.pending.values())
            self._taken = dict(self.pending)
            self.pending.clear()
            self._in_flight = True
            self._replay = []
            return items

    def _done(self, items: list[Item], written: bool) -> list[Invalidation]:
        """After a batch: re-queue it if it failed (newer values win); what to replay."""
        with self._lock:
            replay, self._replay = self._replay, []
            self._in_flight = False
            self._taken = {}
            if not written:
                again = {i[0]: i for i in items if not replay_drops(replay, i)}
                again.update(self.pending)
                self.pending = again
            return replay

    # -- flushing ----------------------------------------------------------------------

    def flush(self, timeout: float = -1) -> int:
        """Write the queue now (waits for a batch in flight); returns how many were written."""
        if not self._flush_lock.acquire(timeout=timeout):
            return 0
        try:
            items = self._take()
            written = self.l2.set_many(items, kept=True) if items else True
            self._apply(self._done(items, written))
            self._tell(items, written)
            return len(items) if written else 0
        finally:
            self._settled()
            self._flush_lock.release()

    def write_now(self, timeout: float) -> None:
        """Write the queue and any batch this thread was interrupted in the middle of.

        For SIGTERM's handler (sigterm.py), which runs on the main thread between two of its
        bytecodes: when that thread was inside `flush`, the batch it had taken is held only in
        `_taken`, and the reentrant locks let the handler in. A batch in flight on the flusher
        thread is waited for (at most `timeout`). The queue stays open: a program's own
        handler may go on writing.
        """
        if not self._flush_lock.acquire(timeout=timeout):
            return
        try:
            with self._lock:
                replay, self._replay = self._replay, []
                items = {k: i for k, i in self._taken.items() if not replay_drops(replay, i)}
                items.update(self.pending)  # newer values win
                self.pending.clear()
                self._taken = {}
            if items and not self.l2.set_many(list(items.values()), kept=True):
                with self._lock:  # L2 is down: kept for a program that goes on (newer win)
                    items.update(self.pending)
                    self.pending = items
            self._apply(replay)
        finally:
            self._settled()
            self._flush_lock.release()

    async def aflush(self) -> int:
        """`flush` for async callers: the same retry and replay rules."""
        # Never block the event loop on the thread lock: a batch in flight means try later.
        if not self._flush_lock.acquire(blocking=False):
            return 0
        try:
            items = self._take()
            written = await self.l2.aset_many(items, kept=True) if items else True
            self._apply(self._done(items, written))
            self._tell(items, written)
            return len(items) if written else 0
        finally:
            self._settled()
            self._flush_lock.release()

    def _tell(self, items: list[Item], written: bool) -> None:
        if written and items and self.on_written is not None:
            try:
                self.on_written([i[0] for i in items])
            except Exception:  # never into the writer: coherence counts its own failures
                log.debug("write-behind %s: on_written failed", self.owner, exc_info=True)

    def _settled(self) -> None:
        """The replay has run (or the flush failed): L2 no longer holds a dropped write."""
        with self._lock:
            self._dropped.clear()

    def _apply(self, replay: list[Invalidation]) -> None:
        for kind, arg in replay:
            if kind == "key":
                self.l2.delete(arg)
            elif kind == "prefix":
                self.l2.delete_prefix(arg)
            elif kind == "tag":
                self.l2.delete_tag(arg)

    def _loop(self) -> None:
        while not self.closed.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # the guard turns L2 errors into False; this is a bug guard
                log.warning("cache %s: write-behind flush failed", self.owner, exc_info=True)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the flusher and write what is queued, waiting for a batch in flight."""
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.flush(timeout)
        except Exception:
            log.warning("cache %s: final write-behind flush failed", self.owner, exc_info=True)


def replay_drops(replay: list[Invalidation], item: Item) -> bool:
    """Whether an invalidation made during the batch covers `item` (it must not come back)."""
    for kind, arg in replay:
        if (
            (kind == "key" and item[0] == arg)
            or (kind == "prefix" and item[0].startswith(arg))
            or (kind == "tag" and arg in item[3])
        ):
            return True
    return False
