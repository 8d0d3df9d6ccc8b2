"""Hypothesis strategies that build every telemetry dataclass from its annotations."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from hypothesis import strategies as st

from tui_perf.model import snapshot as telemetry

_text = st.text(max_size=12)
_int = st.integers(min_value=0, max_value=2**53)
_float = st.floats(allow_nan=False, allow_infinity=False, width=64)


def for_hint(hint: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*[for_hint(a) for a in typing.get_args(hint)])
    if hint is type(None):
        return st.none()
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(for_hint(args[0]), max_size=3).map(tuple)
        return st.tuples(*[for_hint(a) for a in args])
    if dataclasses.is_dataclass(hint):
        return for_dataclass(hint)  # type: ignore[arg-type]
    return {bool: st.booleans(), int: _int, float: _float, str: _text}[hint]


def for_dataclass(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: for_hint(hints[f.name]) for f in dataclasses.fields(cls)}
    if cls is telemetry.Snapshot:
        fields["format_version"] = st.just(telemetry.FORMAT_VERSION)
    return st.builds(cls, **fields)


ALL_DATACLASSES = [
    telemetry.MemorySample,
    telemetry.GCStats,
    telemetry.TierStats,
    telemetry.CacheStats,
    telemetry.PoolStats,
    telemetry.Event,
    telemetry.RungReport,
    telemetry.CleanupReport,
    telemetry.BenchResult,
    telemetry.Snapshot,
]
