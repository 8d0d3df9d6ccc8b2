"""The program's own `gc.freeze()` is the program's (issue 30, 5).

A pre-fork server freezes its start-up heap so that children share it copy-on-write. The
agent's engine and tuner must never unfreeze what they did not freeze: the rollback of a
tuning step and `stop()` leave the program's freeze count as they found it. Each case runs
in a child process, since the freeze count is the whole interpreter's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = textwrap.dedent(
    """
    import gc, json, sys
    import tui_perf.agent as agent

    def frozen():
        return gc.get_freeze_count()

    out = {}
    keep = []
    if sys.argv[2] == "program-froze-first":
        keep = [[i] for i in range(100_000)]
        gc.freeze()
    out["before"] = frozen()
    a = agent.start(socket_path=sys.argv[1], interval=0.05)
    try:
        a.engine.command("gc_freeze")  # what the tuner tries
        out["freeze"] = "done"
    except Exception as exc:
        out["freeze"] = str(exc)
    out["after_freeze"] = frozen()
    if sys.argv[2] == "program-froze-since":
        keep = [[i] for i in range(100_000)]
        gc.freeze()
        out["program_froze"] = frozen()
    a.engine.command("gc_unfreeze")  # the tuner's rollback
    out["after_rollback"] = frozen()
    a.stop()
    out["after_stop"] = frozen()
    print(json.dumps(out))
    """
)


def _run(tmp_path: Path, case: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUI_PERF_HISTORY": "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "a.sock"), case],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _kept(frozen: object, now: object) -> bool:
    """Still frozen: a few frozen objects may die meanwhile (their count then drops), but an
    unfreeze would take the count to 0."""
    assert isinstance(frozen, int) and isinstance(now, int)
    return frozen * 0.99 <= now <= frozen


def test_the_programs_freeze_survives_the_tuners_rollback_and_stop(tmp_path: Path) -> None:
    out = _run(tmp_path, "program-froze-first")
    before = out["before"]
    assert isinstance(before, int) and before >= 100_000
    assert "froze" in str(out["freeze"])  # refused: freezing is the program's
    assert _kept(before, out["after_freeze"])
    assert _kept(before, out["after_rollback"])
    assert _kept(before, out["after_stop"])


def test_a_freeze_the_program_made_after_the_engines_is_left_alone(tmp_path: Path) -> None:
    out = _run(tmp_path, "program-froze-since")
    assert out["before"] == 0 and out["freeze"] == "done"
    program = out["program_froze"]
    assert isinstance(program, int) and program >= 100_000
    assert _kept(program, out["after_rollback"])  # not ours alone any more: left frozen
    assert _kept(program, out["after_stop"])


def test_the_engines_own_freeze_is_undone_when_nobody_froze_since(tmp_path: Path) -> None:
    out = _run(tmp_path, "engine-only")
    after_freeze = out["after_freeze"]
    assert out["before"] == 0 and isinstance(after_freeze, int) and after_freeze > 1000
    assert out["after_rollback"] == 0
    assert out["after_stop"] == 0
