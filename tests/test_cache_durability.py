"""Write-behind durability, counted in real child processes: rows promised vs rows found.

Each child writes through a write-behind cache over a SQLite file and says how many writes
it made; the parent counts the rows. Only SIGKILL may lose writes, and at most the queue.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from tests.conftest import ROOT
from tui_perf.caches.l2 import Item
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry

PRELUDE = """
import os, sys, threading, time
from tui_perf import MultiLevelCache, SQLiteTier

class SlowTier(SQLiteTier):
    # The flusher thread's batches take a while, so the exit lands in the middle of one.
    def set_many(self, items):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(float(os.environ.get("SLOW", "0")))
        super().set_many(items)
"""


def _child(
    db: Path, body: str, slow: float = 0.0, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    code = PRELUDE + f"\nDB = {str(db)!r}\n" + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "SLOW": str(slow), **(env or {})},
    )


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])


def test_normal_exit_while_the_flusher_is_mid_batch_loses_nothing(tmp_path: Path) -> None:
    """Reproduced: 0 of 10 rows after an exit during a batch."""
    db = tmp_path / "c.db"
    child = _child(
        db,
        """
        cache = MultiLevelCache("d", l2=SlowTier(DB), write_behind=True,
                                batch_size=1000, flush_interval=0.05)
        for i in range(10):
            cache.set(f"k{i}", i)
        time.sleep(0.1)          # the flusher has taken the batch and is writing it
        for i in range(10, 20):  # and more are queued behind it
            cache.set(f"k{i}", i)
        print(20, flush=True)
        """,
        slow=0.5,
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert _rows(db) == int(out) == 20


def test_a_cache_dropped_without_close_writes_its_queue(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    child = _child(
        db,
        """
        import gc
        def work():
            cache = MultiLevelCache("local", l2=SQLiteTier(DB), write_behind=True,
                                    batch_size=1000, flush_interval=3600)
            for i in range(25):
                cache.set(i, i)
        work()
        gc.collect()
        import sqlite3
        print(sqlite3.connect(DB).execute("SELECT COUNT(*) FROM cache").fetchone()[0])
        """,
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert int(out) == 25  # written when the cache went away, before the process ended


def test_sigkill_loses_at_most_the_queue(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    child = _child(
        db,
        """
        cache = MultiLevelCache("k", l2=SQLiteTier(DB), write_behind=True,
                                batch_size=50, flush_interval=3600)
        for i in range(1000):
            cache.set(i, i)
        for i in range(1000, 1030):  # 30 queued, under the batch size: not written yet
            cache.set(i, i)
        print("ready", flush=True)
        time.sleep(60)
        """,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert _rows(db) == 1000  # every full batch was written; the 30 queued were lost


SIGTERM_CHILD = """
cache = MultiLevelCache("t", l2=SQLiteTier(DB), write_behind=True,
                        batch_size=10_000, flush_interval=3600, max_pending=10_000)
for i in range(450):
    cache.set(i, i)
HANDLER
print("ready", flush=True)
time.sleep(60)
"""


def _terminated(
    tmp_path: Path, handler: str = "", env: dict[str, str] | None = None, before: str = ""
) -> tuple[int, int, str]:
    """A child with 450 queued writes, sent SIGTERM: (rows found, exit status, its stdout).
    `before` runs before the cache is made, `handler` after its 450 writes."""
    db = tmp_path / "c.db"
    child = _child(db, before + SIGTERM_CHILD.replace("HANDLER", handler), env=env)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    try:
        found = _rows(db)
    except sqlite3.OperationalError:  # no table: nothing was ever written
        found = 0
    return found, child.returncode, out


def test_sigterm_writes_the_queue_and_still_ends_by_sigterm(tmp_path: Path) -> None:
    """kill, docker stop and systemctl stop send SIGTERM, whose default skips every exit
    hook: 450 of 450 queued rows were lost. Now all are written, and the status a
    supervisor sees is still 'killed by SIGTERM'."""
    found, status, _ = _terminated(tmp_path)
    assert (found, status) == (450, -signal.SIGTERM)


def test_sigterm_chains_to_the_programs_own_handler(tmp_path: Path) -> None:
    handler = (
        "import signal, sys\n"
        "def mine(signum, frame):\n"
        "    print('mine ran', flush=True)\n"
        "    sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, mine)\n"
    )
    # installed after the cache: the program's handler replaces ours, and its sys.exit is a
    # normal exit, which writes the queue
    found, status, out = _terminated(tmp_path, handler)
    assert (found, status, "mine ran" in out) == (450, 3, True)


def test_sigterm_handler_installed_before_the_cache_is_called_after_the_flush(
    tmp_path: Path,
) -> None:
    """The program's handler, there first, is kept: ours writes the queue, then calls it."""
    db = tmp_path / "c.db"
    child = _child(
        db,
        textwrap.dedent(
            """
        import signal
        def mine(signum, frame):
            import sqlite3
            n = sqlite3.connect(DB).execute("SELECT COUNT(*) FROM cache").fetchone()[0]
            print("rows when mine ran:", n, flush=True)
            os._exit(4)
        signal.signal(signal.SIGTERM, mine)
        """
        )
        + SIGTERM_CHILD.replace("HANDLER", ""),
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert (child.returncode, out.strip()) == (4, "rows when mine ran: 450")


def test_sigterm_ends_a_program_whose_threads_would_keep_it_alive(tmp_path: Path) -> None:
    """A non-daemon thread and a bare `except:` in the main loop: neither may keep the
    process alive after SIGTERM (an attack found both with a SystemExit-based handler)."""
    handler = (
        "import threading\n"
        "threading.Thread(target=lambda: time.sleep(120)).start()\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(0.01)\n"
        "    except:  # noqa: E722\n"
        "        pass\n"
    )
    found, status, _ = _terminated(tmp_path, handler)
    assert (found, status) == (450, -signal.SIGTERM)


def test_sigterm_while_draining_keeps_what_the_programs_handler_writes(tmp_path: Path) -> None:
    """The program's handler, there before the cache, asks the loop to stop; the loop writes
    100 more, then exits 0. Ours runs first and must leave the queues open for those."""
    before = "import signal\nstop = []\nsignal.signal(signal.SIGTERM, lambda *a: stop.append(1))\n"
    handler = (
        "print('ready', flush=True)\n"
        "while not stop:\n"
        "    time.sleep(0.01)\n"
        "for i in range(450, 550):\n"
        "    cache.set(i, i)\n"
        "sys.exit(0)\n"
    )
    found, status, _ = _terminated(tmp_path, handler, before=before)
    assert (found, status) == (550, 0)


def test_a_program_that_opts_out_keeps_the_default_sigterm(tmp_path: Path) -> None:
    """TUI_PERF_SIGTERM=0: the default action, which loses the queue (this is also what
    every SIGTERM did before sigterm.py: the test above fails without it)."""
    found, status, _ = _terminated(tmp_path, env={"TUI_PERF_SIGTERM": "0"})
    assert (found, status) == (0, -signal.SIGTERM)


class _GatedTier(SQLiteTier):
    """A batch write that waits at a gate: a delete can happen while it is in flight."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def set_many(self, items: list[Item]) -> None:  # type: ignore[override]
        self.entered.set()
        self.gate.wait(10)
        super().set_many(items)


def test_a_delete_during_a_slow_flush_is_not_undone_by_the_flusher(tmp_path: Path) -> None:
    """Reproduced: get -> None, then 0.5 s later the old value was back."""
    tier = _GatedTier(tmp_path / "c.db")
    cache = MultiLevelCache(
        "res",
        l2=tier,
        write_behind=True,
        batch_size=1000,
        flush_interval=3600,
        registry=Registry(),
    )
    cache.set("k", "old")
    flusher = threading.Thread(target=cache.flush)
    flusher.start()
    assert tier.entered.wait(10)  # the batch holding "old" is in flight
    cache.delete("k")
    cache.invalidate_prefix("nothing")  # an unrelated invalidation changes nothing
    tier.gate.set()
    flusher.join(10)
    cache.l1.clear()
    assert cache.get("k") is None
    fresh = MultiLevelCache("res", l2=SQLiteTier(tmp_path / "c.db"), registry=Registry())
    assert fresh.get("k") is None
