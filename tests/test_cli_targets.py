"""`run`, `attach` and `ps` as people meet them: programs that end at once or fail to start,
addresses where nothing answers, sockets left by killed processes, a bad history file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir()
    return {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),
    }


def tui_perf(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_perf", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("program", "code"),
    [
        ("import sys\nsys.exit(5)\n", 5),
        ("print('done')\n", 0),
        ("raise ValueError('boom')\n", 1),
    ],
)
def test_run_returns_the_programs_own_exit_code_however_fast_it_ends(
    tmp_path: Path, env: dict[str, str], program: str, code: int
) -> None:
    script = tmp_path / "quick.py"
    script.write_text(program)
    result = tui_perf(env, tmp_path, "run", "--no-dashboard", "--history", "h.db", str(script))
    assert result.returncode == code, result.stderr
    if code == 1:
        assert "ValueError: boom" in result.stderr  # the reason, not only a log's path


def test_run_of_a_missing_module_says_so(tmp_path: Path, env: dict[str, str]) -> None:
    result = tui_perf(env, tmp_path, "run", "--no-dashboard", "-m", "no_such_module_here")
    assert result.returncode == 1
    assert "No module named 'no_such_module_here'" in result.stderr
    assert "Traceback" not in result.stderr


def test_attach_where_nothing_answers_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runtime = Path(env["XDG_RUNTIME_DIR"]) / "tui-perf"
    runtime.mkdir(mode=0o700)
    stale = runtime / "agent-999999.sock"  # what a SIGKILLed agent leaves behind
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(stale))
    server.close()
    for address, needle in (
        (str(stale), "connection refused (a stale socket: 'tui-perf ps --clean' removes them)"),
        (f"127.0.0.1:{_free_port()}", "connection refused"),
    ):
        result = tui_perf(env, tmp_path, "attach", address)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], result.stderr
    listed = tui_perf(env, tmp_path, "ps")
    assert "gone (stale socket)" in listed.stdout
    cleaned = tui_perf(env, tmp_path, "ps", "--clean")
    assert cleaned.returncode == 0 and "removed 1 stale socket" in cleaned.stdout
    assert not stale.exists()


def test_a_bad_history_file_stops_before_the_ui_or_the_program_starts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    bad = tmp_path / "notadb.txt"
    bad.write_text("these are my notes, not a database\n")
    marker = tmp_path / "ran"
    script = tmp_path / "app.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    for args in (["--history", str(bad)], ["run", "--history", str(bad), str(script)]):
        result = tui_perf(env, tmp_path, *args)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "notadb.txt" in result.stderr
    assert not marker.exists()  # the program never started
    assert bad.read_text() == "these are my notes, not a database\n"


def test_watch_shows_the_watched_process_not_the_dashboards_own_pools() -> None:
    from tui_perf.cli.agent import watch_engine
    from tui_perf.engine.registry import REGISTRY
    from tui_perf.engine.sampler import default_probe
    from tui_perf.pools.objects import ObjectPool

    mine = ObjectPool(bytearray, name="dashboard row state", registry=REGISTRY)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        probe = default_probe(child.pid)
        hidden = watch_engine(probe, 1.0).tick()
        shown = watch_engine(probe, 1.0, internals=True).tick()
        assert hidden.pid == child.pid or hidden.memory.rss > 0
        assert "dashboard row state" not in [p.name for p in hidden.pools]
        assert "dashboard row state" in [p.name for p in shown.pools]
    finally:
        child.kill()
        child.wait()
        del mine


def test_snapshot_reads_the_one_running_agent_and_asks_for_a_pid_otherwise(
    tmp_path: Path, env: dict[str, str]
) -> None:
    import json

    from tests.test_agent import Target

    none = tui_perf(env, tmp_path, "snapshot")
    assert none.returncode == 2 and "give --pid N: no process is running the agent" in none.stderr
    target = Target(env)
    try:
        result = tui_perf(env, tmp_path, "snapshot", "--json")
        assert result.returncode == 0, result.stderr
        snap = json.loads(result.stdout)
        assert snap["pid"] == target.proc.pid
        assert snap["gc"] is not None  # through the agent: the interpreter is in reach
        by_pid = tui_perf(env, tmp_path, "snapshot", "--json", "--pid", str(target.proc.pid))
        assert json.loads(by_pid.stdout)["gc"] is not None
        full = tui_perf(env, tmp_path, "snapshot", "--json", "--full")
        memory = json.loads(full.stdout)["memory"]
        assert memory["uss"] > 0 and memory["pss"] > 0  # psutil reads them; so must we
    finally:
        target.proc.kill()
        target.proc.wait()
