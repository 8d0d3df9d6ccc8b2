"""SIGTERM ends an agent cleanly (issue 30, 7): its socket file is removed, the program's
own SIGTERM handler still runs, and the exit status is the one the program would have had.

`kill`, `docker stop` and `systemctl stop` send SIGTERM; Python's default action ends the
process with no `atexit`, which left a stale socket per agent. The agent's stop is one more
thing `caches/sigterm.py`'s one handler does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = textwrap.dedent(
    """
    import signal, sys, threading
    import tui_perf.agent as agent

    if sys.argv[2] == "handler":
        def on_term(signum, frame):
            print("program handler ran", flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, on_term)
    agent.start(socket_path=sys.argv[1], interval=0.05)
    print("ready", flush=True)
    threading.Event().wait(60)
    """
)


def _terminate(tmp_path: Path, case: str) -> tuple[int, str, Path]:
    sock = tmp_path / "agent.sock"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TUI_PERF_SIGTERM", None)
    child = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(sock), case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"  # blocks until the agent serves
        assert sock.exists()
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, out + err, sock


def test_sigterm_removes_the_socket_and_keeps_the_default_status(tmp_path: Path) -> None:
    status, output, sock = _terminate(tmp_path, "default")
    assert status == -signal.SIGTERM, output
    assert not sock.exists()


def test_sigterm_chains_to_the_programs_handler(tmp_path: Path) -> None:
    status, output, sock = _terminate(tmp_path, "handler")
    assert "program handler ran" in output
    assert status == 7, output
    assert not sock.exists()
