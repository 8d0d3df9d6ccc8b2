"""A SQLite file's write lock held by another process: the L2 outage the cache tests use.

`BEGIN EXCLUSIVE` in a child, as another program sharing the file would hold it; the
child says "locked" once it holds it and lets go when told (a line on its stdin).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


def hold_lock(db: Path) -> subprocess.Popen[str]:
    """A child holding `db`'s write lock (returned once it holds it)."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def release(locker: subprocess.Popen[str]) -> None:
    assert locker.stdin is not None
    locker.stdin.write("\n")
    locker.stdin.flush()
    locker.wait(10)


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """`db`'s write lock held by another process for the block."""
    locker = hold_lock(db)
    try:
        yield
    finally:
        release(locker)
