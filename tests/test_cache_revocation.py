"""Issue #29's defects, each reproduced against the real SQLite tier.

Every test here fails on today's code and is marked `xfail(strict=True)`: the day a fix
lands, the test passes, strict xfail turns that into a failure, and whoever fixed it removes
the marker. They are the acceptance checks for #29, written before the fix so they cannot be
bent to fit it.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.sqlite_lock import locked
from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.codecs import PickleCodec
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError

DEFECT = pytest.mark.xfail(strict=True, reason="issue #29: not fixed yet")


def _cache(db: Path, name: str = "c", **kw: Any) -> MultiLevelCache:
    # a short busy timeout: the outage tests hold the file locked on purpose
    return MultiLevelCache(name, l2=SQLiteTier(db, busy_timeout_s=0.2), registry=Registry(), **kw)


@pytest.mark.parametrize(
    ("stored", "deleted"), [(1, 1.0), (2, Decimal(2)), (1, True)], ids=["float", "decimal", "bool"]
)
def test_a_key_equal_in_python_is_the_same_key_in_every_tier(
    tmp_path: Path, stored: object, deleted: object
) -> None:
    """#29.3: set(1), delete(1.0): L1 forgets it, L2 kept it under repr '1'."""
    cache = _cache(tmp_path / "c.db")
    cache.set(stored, "secret")
    assert cache.delete(deleted) is True
    cache.clear_local()  # a fresh process, or an L1 eviction
    assert cache.get(stored) is None


class UserId:
    """Equal by value, hashable, but without a __repr__ of its own."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserId) and other.n == self.n

    def __hash__(self) -> int:
        return hash(self.n)


def test_a_key_without_a_canonical_form_is_refused_not_keyed_by_its_address(
    tmp_path: Path,
) -> None:
    """#29.4: the default repr holds the address; a later object at that address would read
    the first one's value. It must be refused at the first call instead."""
    cache = _cache(tmp_path / "c.db")
    with pytest.raises(TypeError, match="UserId"):
        cache.set(UserId(1), "user 1's record")


def test_a_signed_value_moved_to_another_key_is_not_served(tmp_path: Path) -> None:
    """#29.7: the HMAC covered the value, not where it was written. Now the moved value is
    refused and counted, like a forged one."""
    db = tmp_path / "c.db"
    cache = _cache(db, codec=PickleCodec(b"k" * 32))
    cache.set("alice", {"role": "admin"})
    cache.set("mallory", {"role": "guest"})
    with sqlite3.connect(db) as conn:  # someone with write access to the file, not the key
        blob = conn.execute(
            "SELECT value FROM cache WHERE key = ?", (cache.key_str("alice"),)
        ).fetchone()[0]
        conn.execute("UPDATE cache SET value = ? WHERE key = ?", (blob, cache.key_str("mallory")))
    cache.clear_local()
    assert cache.get("mallory") != {"role": "admin"}
    assert cache.l2 is not None and cache.l2.refused == 1
    assert cache.get("alice") == {"role": "admin"}  # still served where it was written
    cache.close()


def test_a_signed_value_copied_to_another_cache_sharing_the_secret_is_not_served(
    tmp_path: Path,
) -> None:
    """#29.7: the same key in another cache (another namespace) is another place."""
    db = tmp_path / "c.db"
    secret = PickleCodec(b"k" * 32)
    admins = _cache(db, "admins", codec=secret)
    guests = _cache(db, "guests", codec=secret)
    admins.set("alice", {"role": "admin"})
    guests.set("alice", {"role": "guest"})
    with sqlite3.connect(db) as conn:
        blob = conn.execute(
            "SELECT value FROM cache WHERE key = ?", (admins.key_str("alice"),)
        ).fetchone()[0]
        conn.execute("UPDATE cache SET value = ? WHERE key = ?", (blob, guests.key_str("alice")))
    guests.clear_local()
    assert guests.get("alice") is None
    assert guests.l2 is not None and guests.l2.refused == 1
    admins.close()
    guests.close()


@pytest.mark.parametrize("how", ["tag", "prefix", "clear"])
def test_a_bulk_invalidation_during_an_outage_is_not_lost(tmp_path: Path, how: str) -> None:
    """#29.1: with the file locked by another process, invalidate_tag/prefix and clear
    report success, the rows stay, and after recovery the old value is served.

    Fixed by generations: the call now says it did not reach L2 (`reached_l2`), keeps the
    bump, and stores it once L2 is back. Another process can only learn of it from L2, so
    this waits for that store (the invalidating process's retrier, no call of ours) before
    reading there."""
    db = tmp_path / "c.db"
    cache = _cache(db)
    cache.set("acct:1", "balance 100", tags=("acct",))
    with locked(db):
        if how == "tag":
            result = cache.invalidate_tag("acct")
        elif how == "prefix":
            result = cache.invalidate_prefix("acct:")
        else:
            result = cache.clear()
        assert result.reached_l2 is False  # success is no longer claimed
    assert cache.generations is not None
    deadline = time.monotonic() + 10  # the breaker's first backoff is 0.5 s
    while cache.generations.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    other = _cache(db)  # another process on the same L2, after recovery
    assert other.get("acct:1") is None
    cache.close()
    other.close()
    gc.collect()


def test_an_overwrite_that_failed_in_an_outage_never_lets_the_older_value_back(
    tmp_path: Path,
) -> None:
    """Found by the cache model: a write-through set during an outage keeps the new value in
    L1 only; once L1 lost it (an eviction, a coherence drop), the older L2 value came back
    after recovery. The failed write leaves a tombstone, applied before L2 is read again."""
    db = tmp_path / "c.db"
    cache = _cache(db)
    cache.set("acct:1", "balance 100")
    with locked(db):
        cache.set("acct:1", "balance 0")  # L2 refused it: the file is locked
        assert cache.l2 is not None and cache.l2.down
    cache.clear_local()  # L1 loses the new value
    deadline = time.monotonic() + 10  # through the breaker's backoff, until L2 answers
    while time.monotonic() < deadline:
        assert cache.get("acct:1") in (None, "balance 0")
        if not cache.l2.down:
            break
        time.sleep(0.05)
    assert not cache.l2.down
    assert cache.get("acct:1") is None
    cache.close()


def test_a_tag_invalidation_that_drops_a_queued_write_lets_no_older_value_back(
    tmp_path: Path,
) -> None:
    """Found by the cache model: write-behind, a key written without a tag then again with
    one (queued), the tag invalidated: the queued write went, and L2's older, untagged value
    was served here and in other processes."""
    db = tmp_path / "c.db"
    cache = _cache(db, write_behind=True, batch_size=1000, flush_interval=3600)
    cache.set("user:7", "role=admin")
    cache.flush()
    cache.set("user:7", "role=guest", tags=("tenant:9",))  # queued
    cache.invalidate_tag("tenant:9")  # tenant 9 revoked: user:7 must not answer at all
    assert cache.get("user:7") is None
    other = _cache(db)
    assert other.get("user:7") is None
    cache.close()
    other.close()


class SlowReadTier(SQLiteTier):
    """A real SQLite tier whose `get` stops after reading, until let go: a reader caught
    between L2's reply and putting it in L1."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.hold = False
        self.read, self.go = threading.Event(), threading.Event()

    def _held(self, value: Any) -> Any:
        if self.hold:
            self.read.set()
            self.go.wait(10)
        return value

    def get(self, key: str) -> Any:
        return self._held(super().get(key))

    def get_current(self, scope: str, known: tuple[int, int], key: str) -> Any:
        return self._held(super().get_current(scope, known, key))  # the one-statement read


@pytest.mark.parametrize("how", ["delete", "prefix", "tag", "clear"])
def test_a_read_caught_in_flight_by_a_revocation_puts_nothing_in_l1(
    tmp_path: Path, how: str
) -> None:
    """Found by an attack: a read that had L2's value but not yet put it in L1 put it there
    after delete()/invalidate_*()/clear() returned, and L1 served it until evicted."""
    tier = SlowReadTier(tmp_path / "c.db")
    cache = MultiLevelCache("perm", l2=tier, registry=Registry())
    cache.set("user:alice", "admin", tags=("staff",))
    cache.clear_local()
    tier.hold = True
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(cache.get("user:alice")))
    reader.start()
    assert tier.read.wait(10)  # the reader has L2's value in hand
    tier.hold = False
    revoke = {
        "delete": lambda: cache.delete("user:alice"),
        "prefix": lambda: cache.invalidate_prefix("user:"),
        "tag": lambda: cache.invalidate_tag("staff"),
        "clear": cache.clear,
    }[how]
    revoke()
    tier.go.set()
    reader.join(10)
    # the read began before the revocation: it may answer either way (a bulk one it judges
    # against the generations already bumped, and misses)
    assert got in (["admin"], [None])
    assert "user:alice" not in cache  # but L1 keeps nothing of it
    assert cache.get("user:alice") is None
    cache.close()


def test_a_revoked_row_restamped_in_l2_is_refused(tmp_path: Path) -> None:
    """Found by an attack: the generation stamp and the tags sat outside the signature, so
    whoever could write L2 revived a revoked row by restamping it and stripping its tags."""
    db = tmp_path / "c.db"
    cache = _cache(db, codec=PickleCodec(b"k" * 32))
    cache.set("alice", "GRANTED", tags=["role:admin"])
    cache.invalidate_tag("role:admin")
    with sqlite3.connect(db) as conn:
        key, blob = conn.execute("SELECT key, value FROM cache").fetchone()
        scope = key[: len(cache.namespace)]
        gen = dict(conn.execute("SELECT rule, gen FROM cache_gen WHERE scope=?", (scope,)))
        blob = bytes(blob)
        n = int.from_bytes(blob[17:19], "big")
        stamp = gen["i"].to_bytes(8, "big") + gen["e"].to_bytes(8, "big")
        forged = b"\x02" + stamp + b"\0\0" + blob[19 + n :]  # current stamp, no tags
        conn.execute("UPDATE cache SET value=? WHERE key=?", (forged, key))
        conn.execute("DELETE FROM cache_tags WHERE key=?", (key,))
    other = _cache(db, codec=PickleCodec(b"k" * 32))
    assert other.get("alice") is None
    assert other.l2 is not None and other.l2.refused == 1


def test_more_deletes_in_an_outage_than_tombstones_clear_the_cache_instead(
    tmp_path: Path,
) -> None:
    """Found by attack: the guard kept at most `max_tombstones` and dropped the oldest, so a
    revoke followed by that many writes in one outage came back, here and in every process.
    Past the limit the cache now marks a clear of its namespace, stored on recovery."""
    db = tmp_path / "c.db"
    guarded = GuardedTier(SQLiteTier(db, busy_timeout_s=0.2), owner="c", max_tombstones=5)
    cache = MultiLevelCache("c", l2=guarded, registry=Registry())
    cache.set("alice", "GRANTED")
    with locked(db):
        cache.delete("alice")  # the revoke: a tombstone
        for i in range(10):  # ordinary traffic: each failed write a tombstone too
            cache.set(f"session:{i}", i)
        assert guarded.overflows == 2  # at the 6th and the 11th tombstone
    assert cache.generations is not None
    deadline = time.monotonic() + 10  # the clear is stored at a probe after the backoff
    while (cache.generations.pending or guarded.down) and time.monotonic() < deadline:
        assert cache.get("alice") is None
        time.sleep(0.05)
    assert not cache.generations.pending and not guarded.down
    assert cache.get("alice") is None
    assert cache.get("session:9") == 9  # what this process wrote stays in its L1
    other = _cache(db)  # another process on the same file
    assert other.get("alice") is None
    cache.close()
    other.close()


@pytest.mark.parametrize("tag", [1, "tenant:acme\x1frole:admin", "a\nb"])
def test_a_tag_that_l2_could_not_keep_whole_is_refused_before_anything_is_stored(
    tmp_path: Path, tag: Any
) -> None:
    """Found by an attack: a tag holding \\x1f came back from L2 as two tags, so
    invalidating it missed the entry; tags=[1] raised a TypeError after L1 had the value."""
    cache = _cache(tmp_path / "c.db")
    with pytest.raises(ConfigError, match="cache tag must"):
        cache.set("user:7", "GRANTED", tags=[tag])
    assert "user:7" not in cache
    cache.close()


def test_naive_datetimes_equal_in_python_are_one_key_in_l2(tmp_path: Path) -> None:
    """Found by an attack: fold=0 and fold=1 of one naive wall time are equal (one key in
    L1) but had two L2 texts, so delete() of one left the other's row to be served."""
    import datetime as dt

    a = dt.datetime(2026, 11, 1, 1, 30)
    b = a.replace(fold=1)
    cache = _cache(tmp_path / "c.db")
    cache.set(a, "GRANTED")
    assert cache.delete(b)
    cache.clear_local()
    assert cache.get(a) is None
    cache.close()


def test_a_revoke_made_in_an_outage_is_stored_by_a_close_right_after_recovery(
    tmp_path: Path,
) -> None:
    """Found by attack: close() within the breaker's backoff after L2 came back made no
    attempt, so a delete and an invalidation made during the outage were lost for every
    other process. close() now tries once more whatever the backoff."""
    db = tmp_path / "c.db"
    cache = _cache(db)
    cache.set("u1", "GRANTED")
    cache.set("u2", "GRANTED")
    with locked(db):
        cache.delete("u1")
        assert cache.invalidate_prefix("u").reached_l2 is False
    assert cache.l2 is not None and cache.l2.down  # in its backoff: nothing retried yet
    cache.close()
    fresh = _cache(db)
    assert fresh.get("u1") is None
    assert fresh.get("u2") is None
    fresh.close()


def test_write_behind_writes_kept_through_an_outage_are_served_after_it(tmp_path: Path) -> None:
    """The queue keeps what L2 refused, so those writes leave no tombstones: more of them
    than the breaker keeps must not turn into a clear of the cache (their own values lost)."""
    db = tmp_path / "c.db"
    cache = MultiLevelCache(
        "c",
        l2=GuardedTier(SQLiteTier(db, busy_timeout_s=0.2), owner="c", max_tombstones=5),
        write_behind=True,
        batch_size=10,
        flush_interval=3600,
        registry=Registry(),
    )
    cache.set("warm", 0)  # the generations read once: writes made in the outage are stamped
    cache.flush()
    with locked(db):
        for i in range(30):  # three batches refused
            cache.set(f"k{i}", i)
        cache.flush()
    deadline = time.monotonic() + 10
    while cache.queue is not None and cache.queue.pending and time.monotonic() < deadline:
        cache.flush()
        time.sleep(0.05)
    cache.clear_local()
    assert [cache.get(f"k{i}") for i in range(30)] == list(range(30))
    cache.close()


def test_a_write_behind_write_lost_to_the_queue_bound_lets_no_older_value_back(
    tmp_path: Path,
) -> None:
    """`max_pending` drops the oldest queued write; that write had replaced L2's value."""
    db = tmp_path / "c.db"
    cache = _cache(db, write_behind=True, batch_size=10, flush_interval=3600, max_pending=10)
    cache.set("user:7", "role=admin")
    cache.flush()
    with locked(db):
        cache.set("user:7", "role=guest")  # queued, then pushed out by ten newer writes
        for i in range(10):
            cache.set(f"other:{i}", i)
    cache.clear_local()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert cache.get("user:7") is None  # never the admin role back
        if cache.l2 is not None and not cache.l2.down:
            break
        time.sleep(0.05)
    assert cache.get("user:7") is None
    cache.close()
