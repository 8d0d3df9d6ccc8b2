"""Where tui-perf keeps files: the user's data directory (XDG on Linux)."""

from __future__ import annotations

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
