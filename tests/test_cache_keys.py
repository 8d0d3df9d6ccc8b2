"""One canonical key for every tier (#29): what is one key, what is refused, and that L1 and
L2 always agree, over a real SQLite file (and real Redis for coherence)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tui_perf.caches import keys
from tui_perf.caches.decorator import cached
from tui_perf.caches.keys import UnkeyableError
from tui_perf.caches.memory_tier import MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError


class Level(enum.IntEnum):
    ONE = 1


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: Any
    note: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass
class Mutable:
    x: int


class UserId:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserId) and other.n == self.n

    def __hash__(self) -> int:
        return hash(self.n)


def _cache(db: Path, **kw: Any) -> MultiLevelCache:
    return MultiLevelCache("k", l2=SQLiteTier(db), registry=Registry(), **kw)


def _rows(db: Path) -> int:
    tier = SQLiteTier(db)
    try:
        return tier.stats().size
    finally:
        tier.close()


ONE = [1, 1.0, True, Decimal("1.00"), Level.ONE]


def test_numbers_equal_in_python_are_one_key_in_both_tiers(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "c.db")
    assert len({cache.key_str(k) for k in ONE}) == 1
    for i, k in enumerate(ONE):
        cache.set(k, i)
    assert len(cache.l1) == 1 and _rows(tmp_path / "c.db") == 1
    for k in ONE:
        cache.clear_local()  # L2's answer, as another process would get it
        assert cache.get(k) == len(ONE) - 1


def test_typed_keeps_every_type_apart_in_both_tiers(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "c.db", typed=True)
    for k in ONE:
        cache.set(k, type(k).__name__)
    assert len(cache.l1) == len(ONE) and _rows(tmp_path / "c.db") == len(ONE)
    assert cache.delete(1.0) is True
    cache.clear_local()
    assert [cache.get(k) for k in ONE] == ["int", None, "bool", "Decimal", "Level"]
    assert cache.get(1.0) is None  # gone from L2 too, and nothing else went with it


def test_cached_typed_computes_each_type_once_and_an_untyped_cache_is_refused(
    tmp_path: Path,
) -> None:
    calls: list[object] = []

    @cached(typed=True, l2=SQLiteTier(tmp_path / "c.db"), registry=Registry())
    def ident(x: object) -> str:
        calls.append(x)
        return repr(x)

    assert [ident(k) for k in ONE + ONE] == [repr(k) for k in ONE + ONE]
    assert calls == ONE
    ident.cache.clear_local()  # type: ignore[attr-defined]
    assert ident(1.0) == "1.0" and calls == ONE  # from L2, under the float's own key

    with pytest.raises(ConfigError, match="typed=True"):
        cached(typed=True, cache=MultiLevelCache("u", registry=Registry()))(ident)


def test_untyped_cached_shares_one_entry_between_equal_numbers() -> None:
    calls: list[object] = []

    @cached(registry=Registry())
    def ident(x: object) -> object:
        calls.append(x)
        return x

    assert ident(2) == ident(2.0) == ident(Decimal(2)) == 2
    assert calls == [2]


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (UserId(1), "UserId"),
        ([1, 2], "list"),
        ((1, {"a": 1}), "dict"),
        (Mutable(1), "Mutable"),
        (float("nan"), "NaN"),
        (Decimal("NaN"), "NaN"),
        (object(), "object"),
    ],
    ids=["no-repr", "list", "nested-dict", "mutable-dataclass", "nan", "decimal-nan", "object"],
)
def test_a_key_with_no_canonical_form_is_refused_in_one_line(
    tmp_path: Path, key: object, named: str
) -> None:
    cache = _cache(tmp_path / "c.db")
    for call in (lambda: cache.set(key, 1), lambda: cache.get(key), lambda: cache.delete(key)):
        with pytest.raises(UnkeyableError, match=named) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "key=" in message
        assert isinstance(caught.value, ConfigError) and isinstance(caught.value, TypeError)
    assert len(cache.l1) == 0 and _rows(tmp_path / "c.db") == 0


def test_a_class_made_in_a_function_has_no_name_another_process_can_read(tmp_path: Path) -> None:
    @dataclasses.dataclass(frozen=True)
    class Local:
        x: int

    with pytest.raises(UnkeyableError, match="defined inside a function"):
        _cache(tmp_path / "c.db").set(Local(1), 1)


def test_cached_refuses_an_unkeyable_argument_at_the_first_call_unless_given_key(
    tmp_path: Path,
) -> None:
    @cached(l2=SQLiteTier(tmp_path / "c.db"), registry=Registry())
    def record(user: UserId) -> str:
        return f"record {user.n}"

    with pytest.raises(UnkeyableError, match=r"UserId.*pass key="):
        record(UserId(1))

    @cached(l2=SQLiteTier(tmp_path / "c.db"), key=lambda user: user.n, registry=Registry())
    def keyed(user: UserId) -> str:
        return f"record {user.n}"

    assert keyed(UserId(1)) == "record 1" and keyed(UserId(2)) == "record 2"


def test_without_l2_an_object_is_its_own_key_as_in_lru_cache() -> None:
    cache = MultiLevelCache("local", registry=Registry())
    cache.set(UserId(1), "one")
    assert cache.get(UserId(1)) == "one" and cache.get(UserId(2)) is None
    with pytest.raises(UnkeyableError, match="unhashable"):
        cache.set([1], "a list")


def test_a_frozenset_is_one_key_whatever_its_order_in_any_process(tmp_path: Path) -> None:
    words = [f"w{i}" for i in range(20)]
    a, b = frozenset(words), frozenset(reversed(words))
    cache = _cache(tmp_path / "c.db")
    cache.set(a, "set")
    cache.clear_local()
    assert cache.get(b) == "set" and cache.key_str(a) == cache.key_str(b)
    # str hashes differ between processes, and so does a frozenset's order: not its key
    code = (
        "from tui_perf.caches import keys;"
        f"print(keys.text(keys.canonical(frozenset({words!r}) | {{1.0, ('t', 2)}})))"
    )
    texts = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(texts) == 1


def test_nested_tuples_are_keyed_by_their_canonical_elements(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "c.db")
    cache.set((1, ("a", 2.0, (None, b"x")), Decimal("0.5")), "nested")
    cache.clear_local()
    assert cache.get((1.0, ("a", 2, (None, b"x")), 0.5)) == "nested"
    assert cache.get((1, ("a", 2, (None, "x")), 0.5)) is None  # bytes are not str
    assert cache.get(((1, ("a", 2)), 0.5)) is None  # nesting is kept


def test_other_kinds_each_have_one_form(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "c.db")
    paris = dt.timezone(dt.timedelta(hours=1))
    pairs = [
        (dt.datetime(2026, 1, 1, 13, tzinfo=paris), dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)),
        (Point(1, (2, "b"), note="x"), Point(1, (2.0, "b"), note="y")),  # note: compare=False
        (uuid.UUID(int=7), uuid.UUID("00000000-0000-0000-0000-000000000007")),
        (Colour.RED, Colour("red")),
        (Decimal("0.1"), Decimal("0.100")),
    ]
    for i, (first, same) in enumerate(pairs):
        cache.set(first, i)
        cache.clear_local()
        assert cache.get(same) == i, first
    assert cache.key_str(Colour.RED) != cache.key_str("red")  # a plain enum is not its value
    assert cache.key_str(Decimal("0.1")) != cache.key_str(0.1)  # not equal in Python either
    assert cache.key_str(dt.date(2026, 1, 1)) != cache.key_str(dt.datetime(2026, 1, 1))


def test_canonical_is_idempotent_and_its_text_is_one_to_one() -> None:
    samples: list[object] = [
        "1", 1, 0.5, b"1", None, Decimal("0.1"), (1,), ("1",), frozenset({1}), Colour.RED,
        Point(1, 2), keys.KW, uuid.UUID(int=1), dt.date(2026, 1, 1), True, 1.5, (1.5, "a"),
    ]  # fmt: skip
    for typed in (False, True):
        forms = [keys.canonical(k, typed) for k in samples]
        assert [keys.canonical(f, typed) for f in forms] == forms
        texts = [keys.text(f) for f in forms]
        distinct = {f for f in forms}
        assert len(set(texts)) == len(distinct)


def test_the_one_argument_hit_path_looks_its_key_up_as_it_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[object] = []
    real = keys.canonical

    def counting(key: Any, typed: bool = False, local: bool = False) -> Any:
        made.append(key)
        return real(key, typed, local)

    monkeypatch.setattr(keys, "canonical", counting)

    @cached(registry=Registry())
    def twice(x: Any) -> Any:
        return x + x

    cache = MultiLevelCache("hits", l1=MemoryTier(maxsize=8), registry=Registry())
    cache.set("k", 1)
    assert twice(7) == 14 and twice("ab") == "abab"
    assert made  # the misses made theirs
    made.clear()
    for _ in range(3):
        assert twice(7) == 14 and twice("ab") == "abab"
        assert cache.get("k") == 1
    assert made == []  # no canonical form made on a hit of a str or an int
    assert twice.__code__.co_filename.startswith("<tui_perf.cached")  # the generated wrapper


def test_coherence_carries_the_canonical_key_to_other_caches(redis_url: str) -> None:
    def peer() -> MultiLevelCache:
        return MultiLevelCache(
            "canon", l2=RedisTier(redis_url, prefix="ck:"), coherence=True, registry=Registry()
        )

    here, there = peer(), peer()
    ks = [1, Decimal("0.1"), ("a", 2), Colour.RED, frozenset({"x", "y"}), "plain"]
    for k in ks:
        here.set(k, "v")
        assert there.get(k) == "v"  # a promoted copy in the other cache's L1
    deleted = [1.0, Decimal("0.10"), ("a", 2.0), Colour.RED, frozenset({"y", "x"}), "plain"]
    for k in deleted:
        here.delete(k)
    deadline = time.monotonic() + 5
    while any(k in there for k in ks) and time.monotonic() < deadline:
        time.sleep(0.005)  # the listener thread applies the messages
    assert [k for k in ks if k in there] == []
    here.close()
    there.close()
