"""The one percent formatter, in each of the forms its callers use."""

from __future__ import annotations

import pytest

from tui_perf.model.format import fmt_percent


@pytest.mark.parametrize(
    ("args", "kwargs", "shown"),
    [
        ((0.123,), {}, "12.3%"),  # a hit rate, a share
        ((None,), {}, "—"),  # not measured, which is not zero
        ((0.5, 0), {}, "50%"),
        ((0.00123, 2), {}, "0.12%"),
        ((0.042, None), {}, "4.2%"),  # two figures: a decimal below 10%
        ((0.14, None), {}, "14%"),  # none from there
        ((0.0996, None), {}, "10%"),  # 9.96 rounds to 10, so no decimal
        ((0.14, None), {"sign": True}, "+14%"),  # a change
        ((-0.0004, None), {"sign": True}, "+0.0%"),  # never '-0'
        ((-0.031, None), {"sign": True, "unit": ""}, "-3.1"),  # an interval's bound
    ],
)
def test_fmt_percent(args: tuple[float | None, ...], kwargs: dict[str, object], shown: str) -> None:
    assert fmt_percent(*args, **kwargs) == shown  # type: ignore[arg-type]
