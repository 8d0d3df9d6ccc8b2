"""The tuner through a real agent in a child process, and its command lines: `set_tuning`
and `tune_status` over the socket, `run --profile` refusing a bad profile in one line,
`tune report` reading trials back from a history file, `profiles` naming auto's pick."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.test_agent import Session, Target, runtime, target  # noqa: F401 - fixtures
from tui_perf.agent.client import RemoteSource
from tui_perf.cli.main import main
from tui_perf.model.snapshot import Event
from tui_perf.model.tune import KEPT, ROLLED_BACK, TrialStat
from tui_perf.store.history import HistoryStore
from tui_perf.tune.commands import trial_message


def test_the_tuner_is_turned_on_and_off_through_the_agent(target: Target) -> None:  # noqa: F811
    async def session() -> tuple[dict[str, object], dict[str, object], dict[str, object], bool]:
        async with Session(RemoteSource(target.address)) as session:
            await session.wait_for(2)
            on = await session.source.command("set_tuning", on=True)
            status = await session.source.command("tune_status")
            seen = len(session.snaps)
            snaps = await session.wait_for(seen + 2)
            shown = snaps[-1].tuning is not None and snaps[-1].tuning.enabled
            off = await session.source.command("set_tuning", on=False)
            return on, status, off, shown

    on, status, off, shown = asyncio.run(session())
    assert on["enabled"] is True and on["profile"] and str(on["why"]).startswith("auto: ")
    assert status["enabled"] is True and status["profile"] == on["profile"]
    assert shown  # the tuning section rides on the snapshots
    assert off["enabled"] is False
    code, err = target.finish()
    assert code == 0 and "Exception in thread" not in err


def test_run_refuses_a_bad_profile_before_the_program_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "app.py"
    script.write_text("print('ran')\n")
    assert main(["run", "--no-dashboard", "--profile", "nosuch", str(script)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "tui-perf: error: no profile named 'nosuch'; one of: auto, balanced, cpu-constrained, "
        "latency, memory-constrained, throughput"
    ]
    bad = tmp_path / "mine.toml"
    bad.write_text("[caches]\nmax_entires = 5\n")
    assert main(["run", "--no-dashboard", "--profile", str(bad), str(script)]) == 2
    assert "unknown key 'caches.max_entires'" in capsys.readouterr().err


def _trial(verdict: str, started: float) -> TrialStat:
    return TrialStat(
        "cache-too-small:users",
        'set_cache_size name="users" maxsize=640',
        'set_cache_size name="users" maxsize=160',
        "hit rate of users",
        0.5,
        0.2,
        verdict,
        "hit rate 50.0% -> hit rate 80.0%; miss ratio -62%..-58% (95% interval): better",
        started,
        started + 35,
        "hit rate 50.0%",
        "hit rate 80.0%",
    )


def test_tune_report_reads_the_trials_back_from_the_history_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    path = tmp_path / "h.db"
    now = time.time()

    async def write() -> None:
        async with await HistoryStore.open(path) as store:
            await store.add_event(Event(now - 60, "tune", trial_message(_trial(KEPT, now - 95))))
            await store.add_event(
                Event(now - 30, "tune", trial_message(_trial(ROLLED_BACK, now - 65)))
            )
            await store.add_event(Event(now - 20, "tune", "profile balanced (auto: ...)"))

    asyncio.run(write())
    assert main(["tune", "report", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'kept         set_cache_size name="users" maxsize=640' in out
    assert "why: cache-too-small:users" in out
    # the figure as the pane shows it, not the raw miss ratio the tuner judges by
    assert "hit rate of users: hit rate 50.0% -> hit rate 80.0%" in out
    assert out.rstrip().endswith("1 kept, 1 rolled back, 0 abandoned")
    assert main(["tune", "report", "--history", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in rows] == ["kept", "rolled back"]
    assert rows[0]["undo"] == 'set_cache_size name="users" maxsize=160'
    assert main(["tune", "report", "--history", str(tmp_path / "none.db")]) == 2


def test_profiles_lists_them_and_says_what_auto_picks_here(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "memory-constrained" in out and "auto picks " in out
    assert sum(1 for line in out.splitlines() if line.startswith("*")) == 1
