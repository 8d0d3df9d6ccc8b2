"""A command's result reads, in the toast and in Events, as the command declares beside its
handler (`describe=`); a command that declares nothing, or that only the agent's side knows,
reads by the one generic fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.helpers.dashboard import history, settle
from tui_perf.dashboard.app import Dashboard
from tui_perf.dashboard.results import command_title, describe_result
from tui_perf.dashboard.sources import ScriptedSource
from tui_perf.engine.commands import COMMANDS
from tui_perf.model.format import fmt_bytes


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names of commands this test registered into the process's registry, removed after."""
    names: list[str] = []
    yield names
    for name in names:
        COMMANDS.remove(name)


def _nothing(engine: Any) -> dict[str, Any]:
    return {}


def _warmed(result: Mapping[str, Any]) -> str:
    return f"{result['warmed']} entries warmed; {fmt_bytes(result['bytes'])} read"


async def _run(name: str, reply: dict[str, Any]) -> tuple[str, str, str]:
    """(the Events line, the toast's title, the toast's text) after the dashboard runs `name`."""
    app = Dashboard(ScriptedSource(history(3), replies={name: reply}), chart_interval=0)
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        app.run_command(name)
        await _wait(pilot, lambda: any(e.kind == "command" for e in app.history.events))
        event = next(e for e in app.history.events if e.kind == "command")
        toast = next(n for n in app._notifications if n.severity == "information")
        return event.message, toast.title, str(toast.message)


async def _wait(pilot: Any, condition: Callable[[], bool]) -> None:
    for _ in range(300):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not met")


async def test_a_command_reads_as_its_describe_says(registered: list[str]) -> None:
    COMMANDS.register("test_warm", "Cache warm-up", describe=_warmed)(_nothing)
    registered.append("test_warm")
    event, title, text = await _run("test_warm", {"warmed": 40, "bytes": 2 << 20})
    assert event == "Cache warm-up: 40 entries warmed; 2.0 MiB read"
    assert (title, text) == ("Cache warm-up", "40 entries warmed")  # the first part only


async def test_a_command_without_describe_reads_by_the_fallback(registered: list[str]) -> None:
    COMMANDS.register("test_plain", "Plain thing")(_nothing)
    registered.append("test_plain")
    event, title, text = await _run(
        "test_plain", {"dropped": 1204, "ratio": 0.5, "rows": [[1, 2]], "pinned": True}
    )
    # the nested list is left out: it is no line a person reads
    assert event == "Plain thing: dropped: 1,204, ratio: 0.5, pinned: yes"
    assert (title, text) == ("Plain thing", event.removeprefix("Plain thing: "))


async def test_a_command_only_the_agent_knows_reads_by_its_name() -> None:
    assert COMMANDS.get("warm_remote_cache") is None  # a newer agent's command
    event, title, _ = await _run("warm_remote_cache", {})
    assert (event, title) == ("Warm remote cache: done", "Warm remote cache")


def test_the_engines_commands_read_by_name_without_an_engine() -> None:
    # what the dashboard attached to another process has: a name and a reply dict
    assert command_title("next_gc_strategy") == "GC strategy"
    reply = {"strategy": "throughput", "adaptive": False, "adaptive_turned_off": True}
    assert describe_result("next_gc_strategy", reply) == (
        "set to throughput; adaptive GC is now off (a)"
    )
    assert command_title("profile_stop") == "Profiler"  # a capability's, loaded on demand
    assert describe_result("gc_unfreeze", {"unfrozen": 1204}) == "unfrozen: 1,204"
