"""The command line: real output, and bad input as one line with exit code 2."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, is_root
from tests.helpers.users import in_child_as_nobody
from tui_perf.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a person runs it: its own process, its real output streams."""
    return subprocess.run(
        [sys.executable, "-m", "tui_perf", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"tui-perf( \w+)?: error: ", lines[0]), lines[0]
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_snapshot_json_is_a_valid_snapshot_of_the_given_process() -> None:
    from tui_perf.model.snapshot import Snapshot

    result = run_cli("snapshot", "--json", "--interval", "0", "--pid", str(os.getpid()))
    assert result.returncode == 0, result.stderr
    snap = Snapshot.from_dict(json.loads(result.stdout))
    assert snap.pid == os.getpid()
    assert snap.memory.rss > 0
    assert snap.gc is None  # another process's interpreter is not visible without the agent


def test_snapshot_table_shows_memory_and_gc_of_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--interval", "0", "--pid", str(os.getpid())]) == 0
    out = capsys.readouterr().out
    for label in ("RSS", "VMS", "budget", "threads", "open fds", "thresholds", "collections"):
        assert label in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["snapshot", "--pid", "notanumber"], "invalid int value"),
        (["snapshot", "--pid", str(2**22 + 4321)], "no process with pid"),
        (["snapshot", "--pid", "-4"], "positive process id"),
        (["snapshot", "--interval", "-1"], "--interval"),
        (["nonsense"], "invalid choice"),
        (["history", "--history", "/nonexistent/history.db"], "no history file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    assert_one_line_error(run_cli(*args), needle)


def test_a_corrupt_history_file_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for args in (
        ["history", "--history", str(path)],
        [
            "snapshot",
            "--save",
            "--interval",
            "0",
            "--pid",
            str(os.getpid()),
            "--history",
            str(path),
        ],
    ):
        assert_one_line_error(run_cli(*args), "left untouched")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_saved_snapshots_show_up_in_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.db"
    args = ["snapshot", "--save", "--interval", "0", "--pid", str(os.getpid())]
    assert main([*args, "--history", str(path)]) == 0
    capsys.readouterr()
    assert main(["history", "--history", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["samples"]) == 1 and data["samples"][0]["rss"] > 0


def test_history_given_before_the_command_is_the_one_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.db"
    save = ["snapshot", "--save", "--interval", "0", "--pid", str(os.getpid())]
    assert main(["--history", str(path), *save]) == 0  # written where it was asked
    capsys.readouterr()
    assert main(["--history", str(path), "history", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["samples"]) == 1
    assert main(["--history", str(tmp_path / "none.db"), "history"]) == 2
    assert "no history file" in capsys.readouterr().err


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "snapshot" in result.stdout and "history" in result.stdout


def test_a_pid_you_may_not_read_is_a_clear_error() -> None:
    """USS needs the target's memory maps, which another user may not read."""
    if not is_root():
        assert main(["snapshot", "--full", "--interval", "0", "--pid", "1"]) == 2
        return
    target = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        code, err = in_child_as_nobody(
            lambda: main(["snapshot", "--full", "--interval", "0", "--pid", str(target.pid)])
        )
    finally:
        assert target.stdin is not None
        target.stdin.close()
        target.wait()
    assert code == 2
    assert err.strip().startswith("tui-perf: error: not permitted to read")
    assert "Traceback" not in err


def test_an_unreadable_history_file_is_a_clear_error() -> None:
    holder = tempfile.TemporaryDirectory(prefix="tui-perf-perm-")
    with holder:
        folder = Path(holder.name)
        folder.chmod(0o755)
        path = folder / "history.db"
        path.write_bytes(b"")
        path.chmod(0)
        if is_root():
            code, err = in_child_as_nobody(lambda: main(["history", "--history", str(path)]))
        else:
            result = run_cli("history", "--history", str(path))
            code, err = result.returncode, result.stderr
    assert code == 2
    assert "permission denied" in err and "Traceback" not in err


def test_history_says_how_many_rows_it_left_out_and_filters_by_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from tui_perf.model.snapshot import MemorySample, Snapshot
    from tui_perf.store.history import HistoryStore

    path = tmp_path / "h.db"
    now = time.time()

    async def fill() -> None:
        async with await HistoryStore.open(path) as store:
            for i in range(60):
                pid = 111 if i % 2 else 222
                ts = now - 60 + i
                memory = MemorySample(
                    timestamp=ts, rss=10_000 + i, vms=1, cpu_percent=0.0, num_threads=1
                )
                await store.add_snapshot(
                    Snapshot(timestamp=ts, pid=pid, seq=i, memory=memory, tier="NORMAL")
                )

    asyncio.run(fill())
    assert main(["history", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert "last 40 of 60 (--all for every row)" in out and "processes 111, 222" in out
    assert main(["history", "--history", str(path), "--pid", "111", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["samples"]) == 30 and {s["pid"] for s in data["samples"]} == {111}
    assert main(["history", "--history", str(path), "--all"]) == 0
    assert "--all for every row" not in capsys.readouterr().out


def test_history_names_each_process_and_filters_by_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.db"
    args = ["snapshot", "--save", "--interval", "0", "--pid", str(os.getpid())]
    assert main([*args, "--history", str(path)]) == 0
    capsys.readouterr()
    cmdline = __import__("psutil").Process().cmdline()
    mine = " ".join(cmdline)
    word = cmdline[0].rsplit("/", 1)[-1]  # the interpreter's name: pytest or python -m pytest
    assert main(["history", "--history", str(path), "--command", word, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (proc,) = [p for p in data["processes"] if p["pid"] == os.getpid()]
    assert proc["command"] == mine[:500] and proc["started"] > 0
    assert [s["pid"] for s in data["samples"]] == [os.getpid()]
    assert main(["history", "--history", str(path), "--command", "no-such-program"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "tui-perf: error: no process in the history ran a command with 'no-such-program'"
    )
