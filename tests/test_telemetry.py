"""The data model: exact round-trips, and malformed input named precisely."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.strategies import ALL_DATACLASSES, for_dataclass
from tui_perf.model.decoding import _compiled as compiled_decoder
from tui_perf.model.decoding import _decode as general_walk
from tui_perf.model.errors import SnapshotFormatError, TuiPerfError
from tui_perf.model.snapshot import (
    FORMAT_VERSION,
    CacheStats,
    GCStats,
    MemorySample,
    Snapshot,
    TierStats,
    decode,
    to_dict,
)


@pytest.mark.parametrize("cls", ALL_DATACLASSES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_dataclass_round_trips_exactly_through_json(cls: type, data: st.DataObject) -> None:
    value = data.draw(for_dataclass(cls))
    encoded = json.loads(json.dumps(to_dict(value)))
    assert decode(cls, encoded, cls.__name__) == value


@settings(max_examples=60, deadline=None)
@given(snap=for_dataclass(Snapshot))
def test_snapshot_from_dict_inverts_to_dict(snap: Snapshot) -> None:
    assert Snapshot.from_dict(snap.to_dict()) == snap


@pytest.mark.parametrize("cls", ALL_DATACLASSES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_compiled_decoder_takes_every_valid_dict_itself(cls: type, data: st.DataObject) -> None:
    """The fast path must accept what is valid (else every replay frame pays the general
    walk) and build what the general walk builds; errors are the walk's (tests below)."""
    encoded = json.loads(json.dumps(to_dict(data.draw(for_dataclass(cls)))))
    assert compiled_decoder(cls)(encoded) == general_walk(cls, encoded, cls.__name__)


def _sample_snapshot() -> Snapshot:
    return Snapshot(
        timestamp=1.5,
        pid=42,
        seq=3,
        memory=MemorySample(timestamp=1.5, rss=100, vms=200, cpu_percent=1.0, num_threads=2),
        gc=GCStats(
            enabled=True,
            counts=(1, 2, 3),
            thresholds=(700, 10, 10),
            collections=(5, 1, 0),
            collected=(9, 0, 0),
            uncollectable=(0, 0, 0),
        ),
        caches=(CacheStats("c", (TierStats("L1", "lru", hits=3, misses=1),)),),
    )


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list) and value and not isinstance(value[0], int | float | str):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    return [(path, value)]


def _dotted(path: tuple[Any, ...]) -> str:
    out = "snapshot"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _wrong_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "12"
    if isinstance(value, str):
        return 12
    if isinstance(value, list):
        return {"not": "a list"}
    return [1]  # None and anything else


PATHS = [p for p, v in _leaf_paths(_sample_snapshot().to_dict()) if p != ("format_version",)]


@pytest.mark.parametrize("path", PATHS, ids=_dotted)
def test_a_wrong_type_in_any_field_is_refused_naming_that_field(path: tuple[Any, ...]) -> None:
    data = _sample_snapshot().to_dict()
    target = data
    for part in path[:-1]:
        target = target[part]
    original = target[path[-1]]
    target[path[-1]] = _wrong_value(original)
    with pytest.raises(SnapshotFormatError) as info:
        Snapshot.from_dict(data)
    assert str(info.value).startswith(_dotted(path))


@pytest.mark.parametrize("field", ["timestamp", "pid", "seq", "memory"])
def test_a_missing_required_field_is_named(field: str) -> None:
    data = _sample_snapshot().to_dict()
    del data[field]
    with pytest.raises(SnapshotFormatError, match=rf"snapshot\.{field}: missing"):
        Snapshot.from_dict(data)


def test_a_missing_nested_field_is_named_with_its_path() -> None:
    data = _sample_snapshot().to_dict()
    del data["caches"][0]["tiers"][0]["level"]
    with pytest.raises(SnapshotFormatError, match=r"snapshot\.caches\[0\]\.tiers\[0\]\.level"):
        Snapshot.from_dict(data)


def test_a_newer_format_version_says_to_upgrade() -> None:
    data = _sample_snapshot().to_dict()
    data["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(TuiPerfError, match=r"newer.*upgrade tui-perf"):
        Snapshot.from_dict(data)


@pytest.mark.parametrize("bad", [None, [], "snapshot", 3])
def test_a_non_object_is_refused(bad: Any) -> None:
    with pytest.raises(SnapshotFormatError, match="expected an object"):
        Snapshot.from_dict(bad)


def test_unknown_fields_and_non_finite_numbers_are_refused() -> None:
    data = _sample_snapshot().to_dict()
    extra = copy.deepcopy(data)
    extra["memory"]["surprise"] = 1
    with pytest.raises(SnapshotFormatError, match="unknown field 'surprise'"):
        Snapshot.from_dict(extra)
    data["memory"]["cpu_percent"] = float("nan")
    with pytest.raises(SnapshotFormatError, match=r"cpu_percent.*finite"):
        Snapshot.from_dict(data)


def test_hit_rate_is_hits_over_lookups_and_none_before_any_lookup() -> None:
    l1 = TierStats("L1", "lru", hits=3, misses=1)
    l2 = TierStats("L2", "sqlite", hits=1, misses=0)
    assert l1.hit_rate == 0.75
    assert TierStats("L1", "lru").hit_rate is None
    # A lookup reaches L1 first; an L2 hit is a hit of the cache, not a second lookup.
    assert CacheStats("c", (l1, l2)).hit_rate == 1.0
    assert CacheStats("c", (TierStats("L1", "lru", hits=2, misses=2),)).hit_rate == 0.5


def test_the_fast_init_keeps_every_snapshot_class_frozen_and_its_signature() -> None:
    """fast_init stores through the slots: construction must still take the same arguments
    and defaults, and assignment afterwards must still raise."""
    import dataclasses
    import inspect

    from tui_perf.model import snapshot
    from tui_perf.model.fastinit import fast_init

    sample = snapshot.MemorySample(timestamp=1.0, rss=2, vms=3, cpu_percent=4.0, num_threads=5)
    assert (sample.open_fds, sample.budget) == (None, None)
    assert sample == snapshot.MemorySample(1.0, 2, 3, 4.0, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.rss = 7  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'num_threads'"):
        snapshot.MemorySample(1.0, 2, 3, 4.0)  # type: ignore[call-arg]
    for cls in (snapshot.MemorySample, snapshot.GCStats, snapshot.Snapshot):
        params = inspect.signature(cls).parameters
        fields = dataclasses.fields(cls)
        assert list(params) == [f.name for f in fields]
        assert [p.default for p in params.values()] == [
            inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
            for f in fields
        ]

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    with pytest.raises(TypeError, match="slotted"):
        fast_init(NoSlots)
