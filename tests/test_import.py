"""`import tui_perf` stays light enough for a production service."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("textual", "plotext", "textual_plotext", "aiosqlite")


def test_importing_the_engine_pulls_in_no_ui_or_async_database() -> None:
    code = (
        "import sys, tui_perf\n"
        "from tui_perf import Engine, HistoryStore, Snapshot, Registry, cached\n"
        "from tui_perf import MultiLevelCache, ObjectPool, ConnectionPool, GCController\n"
        "from tui_perf import SQLiteTier, MemoryGuard, benchmark\n"
        "cached(lambda x: x)(1)\n"
        "Engine().tick()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
