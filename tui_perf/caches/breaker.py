"""`GuardedTier`: an L2 tier as an optimisation, never a dependency.

Every call into the tier is wrapped here, once, rather than in every caller (as cashews wraps
a failing backend). Any error (connection refused, timeout, a locked, read-only, deleted or
full file) becomes a miss for reads and a counted failure for writes, and the user's
function still runs. After a failure the circuit opens: the tier is not called again until a
backoff has passed (doubling up to `max_backoff`), then one call probes it; a success closes
the circuit. Failures are logged once per `log_every` seconds, not once per call.

The generation record (`caches.generations`) is read and bumped through here too, None
standing for "not reached": the cache keeps a bump that failed and applies it on recovery.

A delete that could not reach the tier is remembered (up to `max_tombstones`) and replayed
when the tier is back, and reads of that key are misses meanwhile: a value deleted during an
outage must not come back with the tier. Past `max_tombstones` none is forgotten silently:
the owners' `on_overflow` callbacks (a cache marks a clear of its namespace, which covers
every key) are called and the tombstones go; without an owner the oldest goes, logged.
`close()` makes one last replay past the backoff, and logs what it could not store.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from tui_perf.caches.l2 import Item, L2Tier
from tui_perf.caches.memory_tier import MISSING
from tui_perf.caches.twins import Call, Steps, arun, run
from tui_perf.model.snapshot import TierStats

log = logging.getLogger(__name__)


class GuardedTier:
    """Wraps an `L2Tier`: errors are misses or counted write failures; a circuit breaker."""

    def __init__(
        self,
        tier: L2Tier,
        *,
        owner: str,
        clock: Callable[[], float] = time.monotonic,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        log_every: float = 60.0,
        max_tombstones: int = 10_000,
    ) -> None:
        self.tier = tier
        self.level, self.kind = tier.level, tier.kind
        self.owner = owner
        self._clock = clock
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._log_every = log_every
        self._max_tombstones = max_tombstones
        self._lock = threading.Lock()
        self.errors = 0  # every failed call, reads and writes
        self.write_failures = 0
        self.skipped = 0  # calls not made while the circuit was open
        self.failed_reads = 0  # lookups the tier never answered: misses it did not count
        self.refused = 0  # hits not served (undecodable, or older than a bump): misses
        self.reason = ""
        self._failures = 0  # in a row
        self._open_until = 0.0
        self._last_log = float("-inf")
        self._tombstones: dict[str, None] = {}
        # held weakly: a tier must not keep the caches over it alive
        self._on_overflow: list[weakref.WeakMethod[Callable[[], None]]] = []
        self.overflows = 0  # times the tombstones were given up for a clear
        self._retrier: threading.Thread | None = None
        self._closing = threading.Event()
        self._last_stats: TierStats | None = None

    # -- the circuit -------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self._failures > 0

    def _closed_or_probe(self) -> bool:
        """May a call go to the tier now? While open, only once the backoff has passed, and
        then one call: threads probing at once would each fail and double the backoff."""
        if self._failures == 0:
            return True
        with self._lock:
            now = self._clock()
            if now < self._open_until:
                return False
            self._open_until = now + self._backoff  # the others wait for this probe
            return True

    def _succeeded(self) -> None:
        if self._failures:
            with self._lock:
                was = self._failures
                self._failures = 0
            if was:
                log.info("cache %s: L2 %s is back", self.owner, self.kind)
                self._replay_tombstones()

    def _failed(self, exc: BaseException, what: str) -> None:
        with self._lock:
            self.errors += 1
            self._failures += 1
            delay = min(self._backoff * 2 ** (self._failures - 1), self._max_backoff)
            self._open_until = self._clock() + delay
            self.reason = f"{what}: {type(exc).__name__}: {exc}"[:300]
            now = self._clock()
            say = now - self._last_log >= self._log_every
            if say:
                self._last_log = now
        if say:
            log.warning(
                "cache %s: L2 %s failed (%s); treated as a miss, retrying in %.1f s",
                self.owner,
                self.kind,
                self.reason,
                delay,
            )

    def _skip(self) -> None:
        self.skipped += 1

    def retry_now(self) -> None:
        """Let the next call reach the tier whatever the backoff (a last try at close)."""
        with self._lock:
            self._open_until = 0.0

    def on_overflow(self, callback: Callable[[], None]) -> None:
        """`callback` (a bound method, held weakly) is called when the tombstones overflow:
        it must make every L2 entry of its owner unservable (a cache marks a clear)."""
        self._on_overflow.append(weakref.WeakMethod(callback))

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        return run(self._get(key))

    async def aget(self, key: str) -> Any:
        return await arun(self._get(key))

    def _get(self, key: str) -> Steps[Any]:
        if key in self._tombstones:
            self.failed_reads += 1
            return MISSING
        if not self._closed_or_probe():
            self._skip()
            self.failed_reads += 1
            return MISSING
        try:
            value = yield Call(self.tier.get, self.tier.aget, (key,))
        except Exception as exc:
            self.failed_reads += 1
            self._failed(exc, "read")
            return MISSING
        self._succeeded()
        return value

    # -- writes: True when written ----------------------------------------------------

    def set_many(self, items: list[Item], *, kept: bool = False) -> bool:
        """Write `items`; False when L2 did not take them. Unless the caller keeps them to
        write again (`kept`: write-behind's queue), a failure leaves a tombstone per key."""
        return run(self._set_many(items, kept))

    async def aset_many(self, items: list[Item], *, kept: bool = False) -> bool:
        return await arun(self._set_many(items, kept))

    def _set_many(self, items: list[Item], kept: bool = False) -> Steps[bool]:
        if not items:
            return True
        if not self._closed_or_probe():
            self._skip()
            if not kept:
                self._bury_all(items)
            return False
        try:
            yield Call(self.tier.set_many, self.tier.aset_many, (items,))
        except Exception as exc:
            self.write_failures += 1
            self._failed(exc, "write")
            if not kept:
                self._bury_all(items)
            return False
        self._forget_tombstones(items)
        self._succeeded()
        return True

    def _bury_all(self, items: Iterable[Item]) -> None:
        # L2 still holds the value each of these overwrote: once it is back, that older
        # value must not be served (found by the cache model: a set during an outage, L1
        # dropped, then L2's older value read back); deleted on recovery, before reads.
        for item in items:
            self._bury(item[0])

    def _forget_tombstones(self, items: Iterable[Item]) -> None:
        if self._tombstones:
            for item in items:
                self._tombstones.pop(item[0], None)

    # -- deletes: a failure leaves a tombstone -----------------------------------------

    def delete(self, key: str) -> bool:
        if self._closed_or_probe():
            try:
                found = self.tier.delete(key)
            except Exception as exc:
                self._failed(exc, "delete")
            else:
                self._tombstones.pop(key, None)
                self._succeeded()
                return found
        else:
            self._skip()
        self._bury(key)
        return False

    def _bury(self, key: str) -> None:
        if len(self._tombstones) >= self._max_tombstones:
            self._overflow()
        self._tombstones[key] = None
        with self._lock:
            if self._retrier is None or not self._retrier.is_alive():
                self._retrier = threading.Thread(
                    target=self._retry, name=f"tui-perf-tombstones-{self.owner}", daemon=True
                )
                self._retrier.start()

    #: how often a remembered delete is tried again (the backoff decides when a try is made)
    RETRY_S = 0.25

    def _retry(self) -> None:
        # Other processes learn of a delete only from L2: it is stored once L2 is back even
        # if this process makes no L2 call of its own by then.
        while self._tombstones and not self._closing.wait(self.RETRY_S):
            if not self._closed_or_probe():
                continue
            try:
                key = next(iter(self._tombstones))
            except (StopIteration, RuntimeError):  # emptied or changed meanwhile
                continue
            try:
                self.tier.delete(key)
            except Exception as exc:
                self._failed(exc, "delete")
                continue
            self._tombstones.pop(key, None)
            self._succeeded()
            self._replay_tombstones()  # _succeeded replays only if the circuit was open

    def _overflow(self) -> None:
        # Forgetting a tombstone would let a revoked value back: the owners clear instead
        # (a bump covering every key of theirs, kept until L2 stores it), then none is needed.
        owners = [cb for ref in self._on_overflow if (cb := ref()) is not None]
        if not owners:
            key = next(iter(self._tombstones))
            self._tombstones.pop(key)
            log.error(
                "cache %s: more than %d deletes during an L2 outage; %r may come back",
                self.owner,
                self._max_tombstones,
                key,
            )
            return
        for callback in owners:
            callback()
        self.overflows += 1
        log.warning(
            "cache %s: more than %d deletes or failed writes during an L2 outage: "
            "the whole cache is cleared instead",
            self.owner,
            self._max_tombstones,
        )
        self._tombstones.clear()

    def _replay_tombstones(self) -> None:
        for key in list(self._tombstones):
            try:
                self.tier.delete(key)
            except Exception as exc:
                self._failed(exc, "delete")
                return
            self._tombstones.pop(key, None)

    def _bulk(self, what: str, call: Callable[[], int]) -> int:
        if not self._closed_or_probe():
            self._skip()
            return 0
        try:
            n = call()
        except Exception as exc:
            self._failed(exc, what)
            return 0
        self._succeeded()
        return n

    def delete_prefix(self, prefix: str) -> int:
        return self._bulk("delete", lambda: self.tier.delete_prefix(prefix))

    def delete_tag(self, tag: str) -> int:
        return self._bulk("delete", lambda: self.tier.delete_tag(tag))

    def clear(self) -> int:
        return self._bulk("clear", self.tier.clear)

    # -- generations: None when the tier was not reached --------------------------------

    def _reached(self, what: str, call: Callable[[], dict[str, int]]) -> dict[str, int] | None:
        if not self._closed_or_probe():
            self._skip()
            return None
        try:
            record = call()
        except Exception as exc:
            self._failed(exc, what)
            return None
        self._succeeded()
        return record

    def generations(self, scope: str, known: tuple[int, int]) -> dict[str, int] | None:
        return self._reached("read", lambda: self.tier.generations(scope, known))

    def get_current(
        self, scope: str, known: tuple[int, int], key: str
    ) -> tuple[dict[str, int], Any] | None:
        """The tier's `get_current` (SQLite's entry and check in one read) while all is
        well; None for the usual path, with its own checks, otherwise (no such method, the
        circuit not closed, a tombstone on `key`, a failure: then counted, and the circuit
        open makes that path a miss)."""
        both = getattr(self.tier, "get_current", None)
        if both is None or self._failures or key in self._tombstones:
            return None
        try:
            answer: tuple[dict[str, int], Any] | None = both(scope, known, key)
        except Exception as exc:
            self._failed(exc, "read")
            return None
        return answer

    async def agenerations(self, scope: str, known: tuple[int, int]) -> dict[str, int] | None:
        if not self._closed_or_probe():
            self._skip()
            return None
        try:
            record = await self.tier.agenerations(scope, known)
        except Exception as exc:
            self._failed(exc, "read")
            return None
        self._succeeded()
        return record

    def bump_generations(
        self, scope: str, rules: list[str], known: tuple[int, int]
    ) -> dict[str, int] | None:
        return self._reached("invalidate", lambda: self.tier.bump_generations(scope, rules, known))

    # -- the rest ----------------------------------------------------------------------

    def stats(self) -> TierStats:
        base = self._last_stats
        if self._closed_or_probe():
            try:
                base = self._last_stats = self.tier.stats()
            except Exception as exc:
                self._failed(exc, "stats")
        if base is None:
            base = TierStats(self.level, self.kind)
        return TierStats(
            base.level,
            base.kind,
            hits=base.hits - self.refused,
            # a failed or skipped read is a miss the tier itself never saw; a value that
            # could not be decoded was a hit for the tier and a miss for the caller
            misses=base.misses + self.failed_reads + self.refused,
            sets=base.sets,
            evictions=base.evictions,
            expirations=base.expirations,
            promotions=base.promotions,
            size=base.size,
            maxsize=base.maxsize,
            bytes=base.bytes,
            state="down" if self.down else "up",
            errors=self.errors,
            reason=self.reason if self.down else "",
        )

    def close(self) -> None:
        """One last replay of the tombstones past the backoff, then the tier is closed."""
        self._closing.set()
        if self._tombstones:
            self.retry_now()
            self._replay_tombstones()
        if self._tombstones:
            keys = list(self._tombstones)
            log.warning(
                "cache %s: closed with L2 %s down; %d delete(s) not stored there, their "
                "older values may be served by other processes: %s",
                self.owner,
                self.kind,
                len(keys),
                ", ".join(map(repr, keys[:5])) + (" ..." if len(keys) > 5 else ""),
            )
        run(self._close())

    async def aclose(self) -> None:
        """Closes the tier's async connection only (the sync one stays for `close`)."""
        await arun(self._close())

    def _close(self) -> Steps[None]:
        try:
            yield Call(self.tier.close, self.tier.aclose)
        except Exception as exc:
            self._failed(exc, "close")
