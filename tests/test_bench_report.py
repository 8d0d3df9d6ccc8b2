"""The benchmark report never reads as a contradiction: the figure that decides is shown."""

from __future__ import annotations

import pytest

from benchmarks.harness import Comparison, check_rows, fmt_ratio, goal_holds


def row(ratio: float, goal: str, met: bool | None) -> Comparison:
    return Comparison("x", "ours", "peer", ratio, "unit", goal, met)


def test_a_row_whose_ratio_and_met_disagree_is_refused() -> None:
    check_rows([row(0.9, "<= 1.0x", True), row(1.2, ">= 1.1", True), row(3.0, "—", False)])
    with pytest.raises(ValueError, match="contradicts itself"):
        check_rows([row(1.06, "<= 1.02", True)])  # an A/B ratio beside a direct verdict


def test_goals_read_as_bounds_and_percent_goals_read_shares() -> None:
    assert goal_holds(0.85, ">= 80%") is True and goal_holds(0.7, ">= 80%") is False
    assert goal_holds(2.0, "p95 <= 50 ms") is None  # not a bound on the ratio: the note says


def test_a_ratio_is_never_rounded_across_its_bound() -> None:
    text = fmt_ratio(1.1004, "<= 1.1x", False)
    assert float(text) > 1.1 and text.startswith("1.100")
    assert fmt_ratio(0.95, "<= 1.0", True) == "0.95"
