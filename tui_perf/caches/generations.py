"""Invalidation by generation: tags, prefixes and `clear()` as O(1) bumps stored in L2.

Each cache namespace has, in its L2 tier, a small record (a SQLite table's rows, a Redis
hash): an *incarnation* (a random number made with the record, so a tier that lost its data
never matches entries stamped before the loss), an *epoch* (a counter every bump raises by
one), and *rules*: `"c"` for `clear()`, `"t" + tag`, `"p" + key prefix` (the L2 key after
the namespace), each holding the epoch of its last bump. Every entry is stamped with the
incarnation and epoch its writer knew; an entry is served only if no rule that covers it
(the clear, each of its tags, each known prefix of its key) is newer than its stamp. A bulk
invalidation writes one rule, whatever the number of rows, and cannot be half done.

Each process keeps the record cached (`Generations`) and reads it again before an L2 read
once `refresh_s` has passed: by default 0, every L2 read, so another process's bump counts
at its next L2 read here (in SQLite, read with the entry in one statement: `read`; one
more round trip in Redis, which returns only the incarnation and epoch while nothing
changed; the rules newer than the cached epoch when something did; a clear folds the older
rules away). A larger `refresh_s`
(`MultiLevelCache(generation_refresh=...)`) saves that read and lets another process's bump
be missed here for that long; this process's own bumps count at once either way. A bump that cannot
reach L2 (an outage) is kept here and applied before any L2 entry is trusted again: until
then every L2 read is a miss, as is every read while the record cannot be read.

Rows left behind are garbage: a read that meets one deletes it, and SQLite's expiry purge
and culling (oldest first) or Redis's TTLs and eviction take the rest.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tui_perf.caches.memory_tier import MISSING

log = logging.getLogger(__name__)

#: (incarnation, epoch) of the record an entry was written under
Stamp = tuple[int, int]
#: what an entry written when the record was never readable carries: it never matches
UNKNOWN: Stamp = (0, 0)


class GenerationStore(Protocol):
    """The guarded L2 tier's side: None when the tier could not be reached."""

    def generations(self, scope: str, known: Stamp) -> dict[str, int] | None: ...
    async def agenerations(self, scope: str, known: Stamp) -> dict[str, int] | None: ...
    def bump_generations(
        self, scope: str, rules: list[str], known: Stamp
    ) -> dict[str, int] | None: ...


class InvalidationResult(int):
    """What `invalidate_tag`, `invalidate_prefix` and `clear` return: still the count of
    copies dropped in this process's L1 (an int, as before), and `reached_l2`: whether the
    bump was stored in L2 (False: L2 was down; it is kept here, every L2 read is a miss until
    it is stored, and other processes do not see it until then)."""

    reached_l2: bool

    def __new__(cls, count: int, reached_l2: bool) -> InvalidationResult:
        self = super().__new__(cls, count)
        self.reached_l2 = reached_l2
        return self

    def __repr__(self) -> str:
        return f"InvalidationResult({int(self)}, reached_l2={self.reached_l2})"


@dataclass(frozen=True, slots=True)
class GenerationView:
    """One namespace's record as this process last read it."""

    incarnation: int
    epoch: int
    clear: int = 0
    tags: Mapping[str, int] = field(default_factory=dict)
    prefixes: Mapping[str, int] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()  # the prefixes' lengths: a read looks up only these

    def admits(self, stamp: Stamp, rest: str, tags: Iterable[str]) -> bool:
        """Whether an entry stamped `stamp`, whose key after the namespace is `rest`, with
        `tags`, was written after every invalidation that covers it."""
        incarnation, written = stamp
        if incarnation != self.incarnation or written < self.clear:
            return False
        if self.tags:
            for tag in tags:
                if self.tags.get(tag, 0) > written:
                    return False
        # a dict lookup per distinct prefix length, not one test per rule
        return all(self.prefixes.get(rest[:n], 0) <= written for n in self.lengths)

    def stamp(self) -> Stamp:
        return (self.incarnation, self.epoch)


def merged(view: GenerationView | None, record: Mapping[str, int]) -> GenerationView:
    """`view` brought up to date with `record` (the "i", "e" and the rules a tier returned:
    all of them for a new incarnation, else those newer than the view's epoch)."""
    incarnation, epoch = int(record["i"]), int(record["e"])
    if view is None or view.incarnation != incarnation:
        view = GenerationView(incarnation, 0)
    epoch = max(epoch, view.epoch)  # a record read before another merged: not a step back
    clear = max(view.clear, record.get("c", 0))
    tags = {t: g for t, g in view.tags.items() if g > clear}
    prefixes = {p: g for p, g in view.prefixes.items() if g > clear}
    for rule, gen in record.items():
        if rule[:1] == "t" and gen > clear:
            tags[rule[1:]] = max(gen, tags.get(rule[1:], 0))
        elif rule[:1] == "p" and gen > clear:
            prefixes[rule[1:]] = max(gen, prefixes.get(rule[1:], 0))
    # A rule newer than the epoch read (a bump between two reads) raises the epoch with it:
    # what this process writes next is then stamped after it.
    epoch = max([epoch, clear, *tags.values(), *prefixes.values()])
    lengths = tuple(sorted({len(p) for p in prefixes}))
    return GenerationView(incarnation, epoch, clear, tags, prefixes, lengths)


class Generations:
    """One cache's cached record, its pending bumps, and when to read it again.

    The cache calls `current` (or `acurrent`) just before an L2 read, and `judge` on the
    entry it got: the judgement uses the newest view, so a bump made by another thread in
    between is counted."""

    def __init__(
        self,
        store: GenerationStore,
        scope: str,
        *,
        refresh_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.scope = scope
        self.refresh_s = refresh_s
        self._clock = clock
        self._view: GenerationView | None = None
        self._read_at = float("-inf")
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.stale = 0  # L2 entries refused for being older than a bump: misses
        self._retrier: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def pending(self) -> frozenset[str]:
        """Rules bumped here that L2 has not stored yet."""
        return frozenset(self._pending)

    #: how often a bump that could not reach L2 is tried again (the breaker's backoff
    #: decides when a try really reaches the tier)
    RETRY_S = 0.25

    def _due(self, age: float) -> bool:
        return bool(self._pending) or self._clock() - self._read_at >= age

    def current(self) -> GenerationView | None:
        """The view to judge an L2 entry by, read again when `refresh_s` has passed; None
        when L2's record cannot be trusted now (unreadable, or a bump of ours not stored
        yet): the read is then a miss."""
        if not self._due(self.refresh_s):
            return self._view
        if self._pending:
            with self._lock:  # one bump at a time: each rule is stored once
                rules = sorted(self._pending)
                if rules:
                    record = self._store.bump_generations(self.scope, rules, self._known())
                    if record is None:
                        return None
                    self._pending.difference_update(rules)
                    return self._merge(record)
        # A read of the record is not under the lock: threads reading L2 do not queue
        # behind each other; merging is a max, so their order does not matter.
        asked = self._clock()
        record = self._store.generations(self.scope, self._known())
        if record is None:
            return None
        with self._lock:
            return self._merge(record, asked)

    def read(self, key: str, get: Callable[[str], object]) -> object:
        """L2's entry for `key` (`get`), read once the view is current; `MISSING` when the
        record cannot be trusted now. When only the check is due, a store that reads the
        record's head and the entry in one statement (`get_current`: SQLite) does: the
        common case's two reads become one."""
        view = self._view
        if view is not None and not self._pending and self._due(self.refresh_s):
            both = getattr(self._store, "get_current", None)
            if both is not None:
                asked = self._clock()
                answer = both(self.scope, view.stamp(), key)
                if answer is not None:
                    with self._lock:
                        self._merge(answer[0], asked)
                    return answer[1]
        if self.current() is None:
            return MISSING
        return get(key)

    async def acurrent(self) -> GenerationView | None:
        """`current` for async code: the record read on the tier's async client; a bump
        (rare: after an outage) in a worker thread."""
        if not self._due(self.refresh_s):
            return self._view
        if self._pending:
            return await asyncio.to_thread(self.current)
        asked = self._clock()
        record = await self._store.agenerations(self.scope, self._known())
        if record is None:
            return None
        with self._lock:
            return self._merge(record, asked)

    def _merge(self, record: Mapping[str, int], asked: float | None = None) -> GenerationView:
        view = self._view
        if (
            asked is not None
            and view is not None
            and asked < self._read_at
            and record["i"] != view.incarnation
        ):
            return view  # an older read of a record since replaced: it must not win
        if (  # else nothing is new (the common case): the view stands
            view is None
            or len(record) > 2
            or record["i"] != view.incarnation
            or record["e"] > view.epoch
        ):
            view = self._view = merged(view, record)
        self._read_at = max(self._read_at, self._clock() if asked is None else asked)
        return view

    def judge(self, stamp: Stamp | None, rest: str, tags: Iterable[str]) -> bool | None:
        """The check on read, against the newest view: True to serve the entry, False when a
        bump made it stale (its row is garbage), None when nothing can be trusted now (no
        view, or a bump of ours not stored yet): a miss all the same."""
        view = self._view
        if view is None or self._pending:
            return None
        if stamp is not None and view.admits(stamp, rest, tags):
            return True
        self.stale += 1
        return False

    #: how old a view may be to stamp a write with; an older one only makes the entry a
    #: miss if a covering bump came after it (the writer had not seen it: right), but a
    #: tier that lost its record (a new incarnation) must not be written to for long
    STAMP_AGE_S = 1.0

    def stamp(self) -> Stamp:
        """What a write is stamped with: the last view's epoch. While L2 is unreachable, any
        bump not stored yet is newer, so the entry is a miss once it lands; `UNKNOWN` (never
        served) when no view could ever be read."""
        if self._view is None or self._due(max(self.refresh_s, self.STAMP_AGE_S)):
            self.current()
        view = self._view
        return view.stamp() if view is not None else UNKNOWN

    async def aready_to_stamp(self) -> None:
        """Read the record off the event loop when `stamp` would read it."""
        if self._view is None or self._due(max(self.refresh_s, self.STAMP_AGE_S)):
            await self.acurrent()

    def mark(self, rules: Iterable[str]) -> None:
        """Invalidate `rules` here: from now on no L2 entry is trusted before L2 stores them
        (mark before dropping L1, so no read in between brings an old copy back)."""
        with self._lock:
            self._pending.update(rules)

    def apply(self) -> bool:
        """Store what is marked; True when L2 stored it. Otherwise it stays pending: applied
        before the next L2 entry is trusted here, and by a retrying daemon thread meanwhile,
        so other processes see it soon after L2 is back even if this one goes idle."""
        if self.current() is not None:
            return True
        with self._lock:
            if self._retrier is None or not self._retrier.is_alive():
                self._retrier = threading.Thread(
                    target=self._retry, name=f"tui-perf-generations-{self.scope}", daemon=True
                )
                self._retrier.start()
        return False

    def _retry(self) -> None:
        # The guarded tier's breaker paces the real attempts; this only asks again.
        while self._pending and not self._closed.wait(self.RETRY_S):
            try:
                self.current()
            except Exception:  # the guard turns tier errors into None; this is a bug guard
                log.warning("generations %s: retry failed", self.scope, exc_info=True)

    def close(self) -> None:
        """One last try for a pending bump (the cache lets it past the breaker's backoff),
        then stop retrying; a bump still not stored is logged, and lost with this process."""
        if self._pending:
            self.current()
        self._closed.set()
        if self._pending:
            log.warning(
                "generations %s: closed with L2 down; invalidation(s) %s not stored there, "
                "other processes may serve what they covered",
                self.scope,
                ", ".join(sorted(self._pending)),
            )

    def _known(self) -> Stamp:
        return self._view.stamp() if self._view is not None else (0, -1)
