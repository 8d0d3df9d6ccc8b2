"""A history file that is not a regular file is refused at once, never opened (issue 30, 6).

Opening a FIFO blocks until a writer comes; a device may be endless. `replay` and `history`
say so in one line and exit 2 instead of hanging.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tui_perf", *args],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "history.fifo"
    os.mkfifo(path)
    return path


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "h.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


@pytest.mark.parametrize("make", [_fifo, _socket, lambda _: Path("/dev/zero")])
@pytest.mark.parametrize("command", ["replay", "history"])
def test_a_non_regular_history_file_is_one_line_and_exit_2(
    tmp_path: Path, make: object, command: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    args = (command, str(path)) if command == "replay" else (command, "--history", str(path))
    done = _run(*args)  # a hang is a TimeoutExpired, a failure
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "not a regular file" in lines[0]
