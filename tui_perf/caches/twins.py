"""One core, a sync and an async shell: how a method and its `a`-twin cannot drift apart.

A method with an async twin (`get`/`aget`, `set_many`/`aset_many`, `close`/`aclose`) keeps
its logic once, in a generator (a "sans-io" core): wherever it needs the tier, the queue or
the user's loader, it yields a `Call` naming both forms of that call and receives the
result (or the exception, thrown in at the `yield`, so the core's own `try` handles it as
it would a direct call). `run` drives the core with plain calls, `arun` with awaits; the
shells are one line each, so a rule added to the core holds for both at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")


class Call(NamedTuple):
    """One call a core needs made: `sync(*args)` in the sync shell, `await async_(*args)`
    in the async one."""

    sync: Callable[..., Any]
    async_: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()


#: a core: yields the calls it needs, is sent their results, returns its own
Steps = Generator[Call, Any, T]


def run(steps: Steps[T]) -> T:
    """The sync shell: each call made plainly."""
    try:
        step = next(steps)
        while True:
            try:
                result = step.sync(*step.args)
            except BaseException as exc:  # the core sees what a direct call would raise
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(steps: Steps[T]) -> T:
    """The async shell: each call awaited."""
    try:
        step = next(steps)
        while True:
            try:
                result = await step.async_(*step.args)
            except BaseException as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def skip(*args: Any) -> None:
    """The sync form of a call only the async shell makes."""
