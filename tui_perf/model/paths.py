"""Where tui-perf keeps files: the user's data directory (XDG on Linux)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


def data_dir() -> Path:
    """`$XDG_DATA_HOME/tui-perf` on Linux, the platform's equivalent elsewhere."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "tui-perf"


def default_history_path() -> Path:
    return data_dir() / "history.db"


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) as 0700; a folder that exists is left as it is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if it does not exist (never widening an existing one).

    Files we write hold a program's argv, cache contents or output. SQLite gives its -wal and
    -shm files the mode of the database file, so creating that one private is enough.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path
