"""The sync and async shells drive one core alike: results, and errors thrown in at the yield."""

from __future__ import annotations

import asyncio

import pytest

from tui_perf.caches.twins import Call, Steps, arun, run


def _double(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return 2 * x


async def _adouble(x: int) -> int:
    return _double(x)


def _core(x: int) -> Steps[str]:
    try:
        y = yield Call(_double, _adouble, (x,))
    except ValueError as exc:
        return f"caught {exc}"
    z = yield Call(_double, _adouble, (y,))
    return f"got {z}"


@pytest.mark.parametrize("x", [3, -1])
def test_both_shells_give_the_core_the_same_results_and_errors(x: int) -> None:
    assert run(_core(x)) == asyncio.run(arun(_core(x)))
    assert run(_core(3)) == "got 12"
    assert run(_core(-1)) == "caught negative"


def test_an_error_the_core_does_not_catch_reaches_the_caller_of_either_shell() -> None:
    def core() -> Steps[None]:
        yield Call(_double, _adouble, (-5,))

    with pytest.raises(ValueError, match="negative"):
        run(core())
    with pytest.raises(ValueError, match="negative"):
        asyncio.run(arun(core()))
