"""What a benchmark run was measured on, saved beside its values."""

from __future__ import annotations

import gc
import os
import platform
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from tui_perf import __version__


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(where: Path) -> str | None:
    """The commit checked out at `where`, if it is in a git checkout (dirty marked)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def run_metadata(code_dir: Path | None = None) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "build": " ".join(platform.python_build()),
        "compiler": platform.python_compiler(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gc_thresholds": list(gc.get_threshold()),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_commit": git_commit(code_dir or Path.cwd()),
        "tui_perf": __version__,
        "executable": sys.executable,
    }
