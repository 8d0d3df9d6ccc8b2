"""Advice through a real agent in a child process: the section rides on its snapshots, the
`advise` command answers with the cache's curve, and an action taken changes the target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.test_agent import Session, Target, runtime, target  # noqa: F401 - fixtures
from tui_perf.advice import BUILTIN
from tui_perf.advice.report import report_lines
from tui_perf.agent.client import RemoteSource
from tui_perf.cli.advise import exit_code
from tui_perf.cli.main import main
from tui_perf.dashboard.results import describe_result
from tui_perf.model.advice import AdviceStats, Finding
from tui_perf.model.snapshot import Snapshot


def test_advice_and_an_action_taken_through_the_agent(target: Target) -> None:  # noqa: F811
    async def session() -> tuple[dict[str, object], dict[str, object], list[Snapshot]]:
        async with Session(RemoteSource(target.address)) as session:
            await session.wait_for(2)
            # enough lookups sampled to draw the curve: a busy machine runs the workload
            # slower, and a curve from a handful of samples cannot tell size 4 from 16
            for n in range(3, 300):
                advice = await session.source.command("advise")
                curves = {c["cache"]: c for c in advice["curves"]}
                if curves.get("target.square", {}).get("sampled", 0) >= 100:
                    break
                await session.wait_for(n)
            reply = await session.source.command("set_cache_size", name="target.square", maxsize=64)
            seen = len(session.snaps)
            for n in range(seen + 1, seen + 200):  # the new size shows in a later snapshot
                snaps = await session.wait_for(n)
                tier = next(c for c in snaps[-1].caches if c.name == "target.square").tiers[0]
                if tier.maxsize == 64:
                    break
            return advice, reply, session.snaps

    advice, reply, snaps = asyncio.run(session())
    assert isinstance(snaps[0].advice, AdviceStats)
    curves = {c["cache"]: c for c in advice["curves"]}  # type: ignore[union-attr]
    square = curves["target.square"]
    assert square["current_size"] == 16 and square["sampled"] > 0
    # eight keys in a cache of sixteen: past the first lookups everything hits, and no
    # larger size would hit more (the working set fits)
    points = {size: rate for size, rate in square["points"]}  # type: ignore[union-attr]
    assert points[16] > 0.5 and points[128] == points[16] and points[4] < points[16]
    assert reply == {"name": "target.square", "before": 16, "maxsize": 64, "evicted": 0}
    assert describe_result("set_cache_size", reply).startswith("target.square: maxsize 16 → 64;")
    tier = next(c for c in snaps[-1].caches if c.name == "target.square").tiers[0]
    assert tier.maxsize == 64
    assert any("maxsize 16 -> 64" in e.message for s in snaps for e in s.events)
    code, err = target.finish()
    assert code == 0 and "Exception in thread" not in err


def test_tui_perf_advise_reads_a_real_agent(
    target: Target,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    pid = str(target.proc.pid)
    assert main(["advise", "--pid", pid, "--wait", "1"]) == 0  # lookups to draw a curve from
    out = capsys.readouterr().out
    assert out.startswith("window: ") and "cache target.square (size 16): " in out
    assert "policies at this size: lru" in out
    assert main(["advise", "--pid", pid, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["curves"][0]["cache"] == "target.square" and data["rules"] == len(BUILTIN)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pid", "-3"], "--pid must be a positive process id, got -3"),
        (["--pid", "999999999"], "no agent for pid 999999999"),
        (["--wait", "-1"], "--wait must be 0 to 3600 seconds, got -1.0"),
    ],
)
def test_advise_refuses_bad_input_in_one_line(
    args: list[str],
    needle: str,
    runtime: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["advise", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_a_critical_finding_makes_the_exit_code_1() -> None:
    def finding(severity: str) -> Finding:
        return Finding("r", severity, "t", (), "last 60 s (60 snapshots)")

    assert exit_code(AdviceStats(findings=(finding("warning"), finding("info")))) == 0
    assert exit_code(AdviceStats(findings=(finding("warning"), finding("critical")))) == 1
    lines = report_lines(AdviceStats(findings=(finding("critical"),), window_s=60))
    assert lines[2] == "[critical] t  (r)"
