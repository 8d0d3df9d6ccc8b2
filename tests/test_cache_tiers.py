"""The L1 policies, byte limits, TTLs, and the codecs."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.helpers.scripted import FakeClock
from tui_perf.caches.codecs import JsonCodec, PickleCodec, TamperedValueError
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.model.errors import ConfigError


def fill(tier: MemoryTier, *keys: str) -> None:
    for k in keys:
        tier.set(k, k.upper())


def test_lru_evicts_the_least_recently_used() -> None:
    tier = MemoryTier("lru", 2)
    fill(tier, "a", "b")
    tier.get("a")
    fill(tier, "c")
    assert sorted(tier.keys()) == ["a", "c"]
    assert tier.stats().evictions == 1


def test_lfu_evicts_the_least_frequently_used() -> None:
    tier = MemoryTier("lfu", 2)
    fill(tier, "a", "b")
    for _ in range(3):
        tier.get("b")
    tier.get("a")
    fill(tier, "c")
    assert sorted(tier.keys()) == ["b", "c"]


def test_fifo_evicts_the_oldest_whatever_its_use() -> None:
    tier = MemoryTier("fifo", 2)
    fill(tier, "a", "b")
    tier.get("a")
    fill(tier, "c")
    assert sorted(tier.keys()) == ["b", "c"]


def test_rr_evicts_one_entry_to_make_room() -> None:
    tier = MemoryTier("rr", 3)
    fill(tier, "a", "b", "c", "d")
    assert len(tier) == 3 and "d" in tier
    assert tier.stats().evictions == 1


def test_ttl_expires_on_the_injected_clock_and_counts_expirations() -> None:
    clock = FakeClock()
    tier = MemoryTier("ttl", 10, ttl=5, timer=clock)
    fill(tier, "a")
    clock.advance(4.9)
    assert tier.get("a") == "A"
    clock.advance(0.1)
    assert tier.get("a") is MISSING
    stats = tier.stats()
    assert (stats.expirations, stats.evictions, stats.hits, stats.misses) == (1, 0, 1, 1)


def test_tlru_gives_each_item_its_own_ttl() -> None:
    clock = FakeClock()
    tier = MemoryTier("tlru", 10, timer=clock)
    tier.set("short", 1, ttl=1)
    tier.set("long", 2, ttl=100)
    tier.set("forever", 3)
    clock.advance(2)
    assert (tier.get("short"), tier.get("long"), tier.get("forever")) == (MISSING, 2, 3)


def test_maxsize_in_bytes_evicts_by_size_and_skips_oversized_values() -> None:
    tier = MemoryTier("lru", 100, getsizeof=len)
    tier.set("a", b"x" * 40)
    tier.set("b", b"x" * 40)
    tier.set("c", b"x" * 40)  # 120 > 100: "a" goes
    assert sorted(tier.keys()) == ["b", "c"]
    tier.set("huge", b"x" * 101)  # larger than the tier: not cached, no error
    assert tier.get("huge") is MISSING
    stats = tier.stats()
    assert stats.bytes == 80 and stats.size == 2 and stats.maxsize == 100


def test_hit_rate_is_hits_over_lookups() -> None:
    tier = MemoryTier()
    fill(tier, "a")
    for key in ("a", "a", "a", "zz"):
        tier.get(key)
    assert tier.stats().hit_rate == 0.75


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"policy": "mru"}, "unknown cache policy"),
        ({"maxsize": 0}, "maxsize"),
        ({"policy": "ttl"}, "ttl > 0"),
    ],
)
def test_bad_tier_settings_are_refused(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        MemoryTier(**kwargs)  # type: ignore[arg-type]


def test_per_item_ttl_needs_tlru() -> None:
    with pytest.raises(ConfigError, match="tlru"):
        MemoryTier("lru").set("a", 1, ttl=3)


def test_the_fast_hit_path_sees_what_the_public_one_sees() -> None:
    for policy in ("lru", "fifo", "rr"):
        tier = MemoryTier(policy, 4)
        fast = tier.fast_lookup()
        assert fast is not None, f"cachetools internals moved for {policy}"
        data, touch = fast
        fill(tier, "a", "b")
        assert data["a"] == tier.peek("a") == "A"
        if policy == "lru":
            assert touch is not None
            touch("a")
            fill(tier, "c", "d", "e")  # "b" is now the least recently used
            assert "b" not in tier and "a" in tier
    assert MemoryTier("lfu").fast_lookup() is None


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, "x"]}, "x" * 5000, 0, []])
def test_json_round_trips_and_compresses_large_values(value: object) -> None:
    codec = JsonCodec(compress_above=1024)
    data = codec.encode(value)
    assert codec.decode(data) == value
    assert data[:1] == (b"j" if len(str(value)) > 1024 else b"J")


def test_json_refuses_what_it_cannot_store() -> None:
    with pytest.raises(ConfigError, match="JsonCodec cannot store this value"):
        JsonCodec().encode({1, 2})


@pytest.mark.parametrize(
    "value",
    [{"ids": (1, 2)}, {7: "seven"}, (1, 2), [1, {2: 3}], float("nan"), {"x": {1.5: 1}}],
    ids=["tuple-inside", "int-key", "tuple", "nested-int-key", "nan", "float-key"],
)
def test_json_refuses_at_set_what_would_not_come_back_equal(value: object) -> None:
    """Reproduced: {'ids': (1, 2), 7: 'seven'} came back as {'ids': [1, 2], '7': 'seven'}."""
    with pytest.raises(ConfigError, match="JsonCodec"):
        JsonCodec().encode(value)


def test_pickle_round_trips_with_its_key() -> None:
    codec = PickleCodec(b"k" * 32)
    assert codec.decode(codec.encode({1, 2, (3, "x" * 3000)})) == {1, 2, (3, "x" * 3000)}


class _Boom:
    """Unpickling this would run code: touch a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_a_value_signed_with_another_key_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    forged = PickleCodec(b"attacker-key-0123456789").encode(_Boom(str(marker)))
    with pytest.raises(TamperedValueError, match="signature does not match"):
        PickleCodec(b"our-own-key-0123456789").decode(forged)
    assert not marker.exists()
    raw = b"P" + pickle.dumps(_Boom(str(marker)))  # unsigned
    with pytest.raises(Exception, match=r"signature|not a signed"):
        PickleCodec(b"our-own-key-0123456789").decode(raw)
    assert not marker.exists()


def test_a_signed_value_is_bound_to_its_place() -> None:
    """The signature covers where the value was written: elsewhere it is refused."""
    codec = PickleCodec(b"k" * 32)
    data = codec.encode({"role": "admin"}, place="ns|alice")
    assert codec.decode(data, place=b"ns|alice") == {"role": "admin"}  # str and bytes alike
    for elsewhere in ("ns|alicf", "ns|mallory", "other|alice", ""):
        with pytest.raises(TamperedValueError, match="moved from another key"):
            codec.decode(data, place=elsewhere)
    # The length goes first: a place and payload cut differently do not sign alike.
    with pytest.raises(TamperedValueError):
        codec.decode(data, place="ns|alic")
    json = JsonCodec()  # unsigned: the place means nothing to it
    assert json.decode(json.encode([1], place="a"), place="b") == [1]


def test_pickle_needs_a_real_key() -> None:
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        PickleCodec("short")
