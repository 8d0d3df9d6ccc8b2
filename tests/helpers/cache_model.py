"""A model of `MultiLevelCache` that random sequences of operations are checked against (#29).

`CacheModel` is a hypothesis `RuleBasedStateMachine`. It drives one cache in this process
over a real L2 (a SQLite file, or a redis-server of the test's own) and, when asked, a
second process on the same L2 (`cache_peer.py`, a long-lived child that only reads), and
keeps a plain dict of what each key holds. The operations: set (with tags), get, delete,
invalidate_tag, invalidate_prefix, clear, L1 evictions (a small L1, and the memory guard's
flush), write-behind flushes, L2 outages (the SQLite file held by `BEGIN EXCLUSIVE` in
another process; redis-server killed) ending with Redis restarted with or without its data,
and reads by the other process.

What a reader may legally see:

- this process: the model's value, or a miss (a cache may always miss). Never a value the
  model deleted, invalidated or overwrote, never another key's value.
- the other process: a miss, what L2 should hold, or an older value for at most `bound`
  seconds after the operation that replaced it reached L2. An operation made during an
  outage reaches L2 when the outage ends and this process's tier has recovered (its
  breaker's clock is ours: the recovery is a step of the model, not a wait). A stale answer
  is asked again until it is fresh or the bound has passed; past the bound it is a failure.
  Over SQLite nothing tells the other process: its bound is its L1's ttl, on a clock the
  model moves (a stale answer: the clock is moved by the ttl, and asked again). Over Redis
  the bound is coherence's, in real seconds: a stale answer is asked again every 20 ms.

Keys are compared as `functools.lru_cache(typed=False)` compares them, which is what a plain
dict does: 1, 1.0, True and Decimal(1) are one key; "1" is another. `Scenario.aliases` off
spells each key one way only; `Scenario.outages` off leaves L2 up throughout.
"""

from __future__ import annotations

import collections
import dataclasses
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.helpers.cache_peer import MISS, Peer
from tests.helpers.sqlite_lock import hold_lock, release
from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.codecs import JsonCodec, PickleCodec
from tui_perf.caches.memory_tier import MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.engine.registry import Registry

#: every spelling of the key space; equal spellings are one key (lru_cache, typed=False)
STRING_KEYS: list[Any] = ["a:1", "a:2", "b:1", "1"]
NUMBER_KEYS: list[Any] = [1, 1.0, True, Decimal(1), 2, Decimal("2.0")]
SPELLINGS = STRING_KEYS + NUMBER_KEYS
#: half the draws a number, so equal spellings of one key meet often enough to be found
KEYS = st.one_of(st.sampled_from(STRING_KEYS), st.sampled_from(NUMBER_KEYS))
#: each key's first spelling, found by dict equality: CANON[1.0] is 1, CANON["1"] is "1"
CANON: dict[Any, Any] = {}
for _k in SPELLINGS:
    CANON.setdefault(_k, _k)
LABEL = {k: f"{type(k).__name__} {k}" for k in CANON.values()}
TAGS = ["t1", "t2"]
PREFIXES = ["a:", "a:1", "b", "1"]
HMAC_KEY = b"model-test-key-0123456789abcdef"
#: never set: a read of it is how this process's tier notices that L2 is back
PROBE = "probe"

#: the other process's L1 ttl over SQLite (no invalidation channel), on its injected clock
PEER_TTL_S = 5.0
#: how long after a change reaches L2 the other process may still answer the older value
#: (SQLite: on the peer's clock; Redis: real seconds, coherence's delivery)
BOUND_S = {"sqlite": PEER_TTL_S, "redis": 1.0}
#: how often a stale answer from the other process is asked again, until fresh or too late
POLL_S = 0.02


@dataclasses.dataclass(frozen=True)
class Scenario:
    aliases: bool = True  # keys spelled several ways (1, 1.0, True, Decimal(1))
    outages: bool = True  # L2 outages, Redis restarts with and without its data
    peer: bool = True  # a second process on the same L2
    write_behind: bool = True  # off: every cache writes through (the drawn flag is ignored)


@dataclasses.dataclass
class ModelEnv:
    """What lives across examples: the tier's place, the server, the peer, the counts."""

    tier: str  # "sqlite" | "redis"
    workdir: Path
    scenario: Scenario
    redis: Any = None  # tests.helpers.redis_server.RedisServer, for "redis"
    peer: Peer | None = None
    sequences: int = 0
    steps: int = 0
    #: operations run, by rule
    ops: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    @property
    def bound_s(self) -> float:
        return BOUND_S[self.tier]


class FakeClock:
    """This process's breaker clock: the model moves it, so recovery is a step, not a wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CacheModel(RuleBasedStateMachine):
    def __init__(self, env: ModelEnv) -> None:
        super().__init__()
        self.env = env
        self.cache: MultiLevelCache | None = None
        self.locker: subprocess.Popen[str] | None = None
        self.outage = False
        self.clock = FakeClock()
        #: what this process must answer for each key
        self.current: dict[Any, str] = {}
        #: write-behind: what is queued, not yet in L2
        self.pending: dict[Any, str] = {}
        #: what L2 should hold once every operation has reached it
        self.l2: dict[Any, str] = {}
        #: a value that left L2's model: when that reached L2 (None: not yet, an outage)
        self.superseded: dict[str, float | None] = {}
        self.tags_of: dict[str, frozenset[str]] = {}
        self.label_of: dict[str, str] = {}
        self.fate: dict[str, str] = {}  # why a value left the model, for the failure message
        self.written = 0
        self.peer_clock = 0.0  # the other process's L1 clock, which the model moves

    # -- setting up --------------------------------------------------------------------

    @initialize(
        write_behind=st.booleans(), codec=st.sampled_from(["json", "pickle"]), l1_size=st.just(3)
    )
    def open_cache(self, write_behind: bool, codec: str, l1_size: int) -> None:
        self.env.sequences += 1
        name = f"m{uuid.uuid4().hex[:8]}"
        self.write_behind = write_behind and self.env.scenario.write_behind
        tier: Any
        if self.env.tier == "sqlite":
            from tui_perf.caches.sqlite_tier import SQLiteTier

            path = self.env.workdir / f"{name}.db"
            tier = SQLiteTier(path, busy_timeout_s=0.05)
            where: dict[str, Any] = {"path": str(path), "busy_timeout_s": 0.05}
        else:
            import redis

            from tui_perf.caches.redis_tier import RedisTier

            redis.Redis.from_url(self.env.redis.url).flushall()
            tier = RedisTier(self.env.redis.url, socket_timeout=0.5)
            where = {"url": self.env.redis.url}
        self.db_path = where.get("path")
        self.cache = MultiLevelCache(
            name,
            l1=MemoryTier("lru", maxsize=l1_size),
            # already guarded, with our clock: used as it is (its writes return bool, so the
            # L2Tier protocol does not cover it)
            l2=GuardedTier(tier, owner=name, clock=self.clock),  # type: ignore[arg-type]
            codec=PickleCodec(HMAC_KEY) if codec == "pickle" else JsonCodec(),
            write_behind=self.write_behind,
            batch_size=10_000,  # flushed by the model's rule only
            flush_interval=3600,
            max_pending=10_000,
            coherence=self.env.tier == "redis",
            registry=Registry(),
        )
        if self.env.peer is not None and self.env.scenario.peer:
            redis_tier = self.env.tier == "redis"
            self.env.peer.call(
                "open",
                {
                    "tier": self.env.tier,
                    "name": name,
                    "codec": codec,
                    "hmac_key": HMAC_KEY,
                    # over SQLite nothing tells the peer; its L1 ttl is its bound
                    "l1_ttl": None if redis_tier else PEER_TTL_S,
                    "coherence": redis_tier,
                    **where,
                },
            )
            self.peer_clock = self.env.peer.call("advance", 0.0)

    def teardown(self) -> None:
        try:
            if self.cache is not None:
                self.cache.close()
        finally:
            if self.outage:
                self._end_outage(keep_data=True)

    # -- helpers -----------------------------------------------------------------------

    def _key(self, key: Any) -> Any:
        return key if self.env.scenario.aliases else CANON[key]

    def _step(self) -> MultiLevelCache:
        self.env.steps += 1
        self.env.ops[sys._getframe(1).f_code.co_name] += 1
        assert self.cache is not None
        return self.cache

    def _drop(self, table: dict[Any, str], key: Any, why: str, *, l2: bool = False) -> None:
        old = table.pop(key, None)
        if old is None:
            return
        self.fate.setdefault(old, why)
        if l2:
            # when it reaches L2: now, or when the outage is over and the tier recovered
            self.superseded[old] = None if self.outage else self._now()

    def _remove(self, keys: list[Any], why: str) -> None:
        for key in keys:
            self._drop(self.current, key, why)
            self._drop(self.pending, key, why)
            self._drop(self.l2, key, why, l2=True)

    def _now(self) -> float:
        """The time the other process's bound is counted in (see the module docstring)."""
        return self.peer_clock if self.env.tier == "sqlite" else time.monotonic()

    def _all_keys(self) -> list[Any]:
        return list({**self.current, **self.pending, **self.l2})

    def _story(self, key: Any, got: object) -> str:
        if not isinstance(got, str) or got not in self.label_of:
            return "a value this model never wrote"
        if self.label_of[got] != LABEL[CANON[key]]:
            return f"another key's value (written to {self.label_of[got]})"
        return f"a value the model {self.fate.get(got, 'still holds elsewhere')}"

    # -- this process ------------------------------------------------------------------

    @rule(
        key=KEYS,
        tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=2),
    )
    def set(self, key: Any, tags: list[str]) -> None:
        cache = self._step()
        key = self._key(key)
        self.written += 1
        value = f"{LABEL[CANON[key]]}#{self.written}"
        self.tags_of[value] = frozenset(tags)
        self.label_of[value] = LABEL[CANON[key]]
        cache.set(key, value, tags=tags)
        why = f"overwrote with {value} (set({key!r}))"
        self._drop(self.current, key, why)
        self.current[key] = value
        if self.write_behind:
            self._drop(self.pending, key, why)
            self.pending[key] = value
        else:
            self._drop(self.l2, key, why, l2=True)
            self.l2[key] = value

    @rule(key=KEYS)
    def get(self, key: Any) -> None:
        self._step()
        self._check_read(self._key(key))

    def _check_read(self, key: Any) -> None:
        assert self.cache is not None
        self.env.ops["(a read checked)"] += 1
        got = self.cache.get(key)
        want = self.current.get(key)
        if got is not None and got != want:
            raise AssertionError(
                f"get({key!r}) in this process gave {got!r}: {self._story(key, got)}; "
                f"the model holds {want!r}"
            )

    def _spellings(self) -> list[Any]:
        return SPELLINGS if self.env.scenario.aliases else list(LABEL)

    @invariant()
    def every_key_reads_as_the_model_says(self) -> None:
        """After every step, every key: the reads that find a stale L2 value find it at once
        (L1 holds 3 entries, so most of these reads go to L2)."""
        if self.cache is not None:
            for key in self._spellings():
                self._check_read(key)

    @rule(key=KEYS)
    def delete(self, key: Any) -> None:
        cache = self._step()
        key = self._key(key)
        cache.delete(key)
        self._remove([key], f"deleted (delete({key!r}))")

    @rule(tag=st.sampled_from(TAGS))
    def invalidate_tag(self, tag: str) -> None:
        self._step().invalidate_tag(tag)
        why = f"invalidated (invalidate_tag({tag!r}))"
        # A key whose latest value carries the tag is gone, older values under it too (a
        # queued write had replaced L2's older one)...
        self._remove([k for k, v in self.current.items() if tag in self.tags_of[v]], why)
        # ...and elsewhere only where the value carries the tag: a newer one without it stays.
        for table, l2 in ((self.pending, False), (self.l2, True)):
            for key in [k for k, v in table.items() if tag in self.tags_of[v]]:
                self._drop(table, key, why, l2=l2)

    @rule(prefix=st.sampled_from(PREFIXES))
    def invalidate_prefix(self, prefix: str) -> None:
        self._step().invalidate_prefix(prefix)
        gone = [k for k in self._all_keys() if isinstance(k, str) and k.startswith(prefix)]
        self._remove(gone, f"invalidated (invalidate_prefix({prefix!r}))")

    @rule()
    def clear(self) -> None:
        self._step().clear()
        self._remove(self._all_keys(), "cleared (clear())")

    @rule()
    def evict_l1(self) -> None:
        """The memory guard's rung: L1 emptied, L2 kept (L1's maxsize of 3 evicts too)."""
        self._step().flush_memory()

    @precondition(lambda self: self.write_behind)
    @rule()
    def flush(self) -> None:
        self._step().flush()
        if self.outage:
            return  # a failed batch is queued again
        for key, value in list(self.pending.items()):
            self._drop(self.l2, key, f"overwrote with {value} (a write-behind flush)", l2=True)
            self.l2[key] = value
        self.pending.clear()

    # -- outages -----------------------------------------------------------------------

    @precondition(lambda self: self.env.scenario.outages and not self.outage)
    @rule()
    def outage_begins(self) -> None:
        self._step()
        if self.env.tier == "sqlite":
            self.locker = hold_lock(self.db_path)
        else:
            import redis

            redis.Redis.from_url(self.env.redis.url).save()  # what a restart with data keeps
            self.env.redis.stop()
        self.outage = True

    @precondition(lambda self: self.outage)
    @rule()
    def time_passes(self) -> None:
        """The breaker's backoff passes: the next call probes the tier (and fails)."""
        self._step()
        self.clock.advance(60)

    @precondition(lambda self: self.outage)
    @rule(keep_data=st.booleans())
    def outage_ends(self, keep_data: bool) -> None:
        """The lock released, or Redis started again with its data or empty (`keep_data`
        means nothing to SQLite, whose file keeps everything)."""
        self._step()
        self._end_outage(keep_data)

    def _end_outage(self, keep_data: bool) -> None:
        if self.locker is not None:
            release(self.locker)
            self.locker = None
        if self.env.tier == "redis" and self.env.redis.proc is None:
            if not keep_data:
                (self.env.redis.workdir / "dump.rdb").unlink(missing_ok=True)
            self.env.redis.start()
        self.outage = False
        cache = self.cache
        if cache is None or cache.l2 is None or cache._closed:
            return
        for _ in range(5):  # the backoff passes; a read probes the tier and it recovers
            self.clock.advance(3600)
            cache.get(PROBE)
            if not cache.l2.down:
                break
        else:
            raise RuntimeError(f"the tier did not recover: {cache.l2.reason}")
        now = self._now()
        for value, when in self.superseded.items():
            if when is None:
                self.superseded[value] = now

    # -- the other process -------------------------------------------------------------

    def _has_peer(self) -> bool:
        return self.env.peer is not None and self.env.scenario.peer

    @precondition(lambda self: self._has_peer())
    @rule(key=KEYS)
    def other_process_gets(self, key: Any) -> None:
        self._step()
        self._check_peer_read(self._key(key))

    @precondition(lambda self: self._has_peer())
    @invariant()
    def every_key_reads_in_the_other_process_within_the_bound(self) -> None:
        if self.cache is not None:
            for key in LABEL:
                self._check_peer_read(key)

    def _check_peer_read(self, key: Any) -> None:
        assert self.env.peer is not None
        while True:
            asked = self._now()
            self.env.ops["(a read by the other process checked)"] += 1
            got = self.env.peer.call("get", key)
            if got == MISS or got == self.l2.get(key):
                return
            if got not in self.superseded or self.label_of.get(got) != LABEL[CANON[key]]:
                raise AssertionError(
                    f"get({key!r}) in the other process gave {got!r}: {self._story(key, got)}"
                )
            when = self.superseded[got]
            if when is None:
                return  # replaced during an outage that is not over: L2 cannot know yet
            if asked >= when + self.env.bound_s:
                raise AssertionError(
                    f"get({key!r}) in the other process gave {got!r} {asked - when:.2f} s "
                    f"after the change that replaced it reached L2 (bound "
                    f"{self.env.bound_s} s): {self._story(key, got)}; L2 should hold "
                    f"{self.l2.get(key)!r}"
                )
            # Within the bound: the peer's L1 ttl or a coherence message has not acted yet.
            # Ask again once it has had the time to, or once the bound has passed.
            if self.env.tier == "sqlite":
                self.peer_clock = self.env.peer.call("advance", self.env.bound_s)
            else:
                time.sleep(POLL_S)
