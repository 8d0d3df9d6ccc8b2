"""What the tuner learned, kept past the process: each rolled-back change's cooling-off,
in a small JSON file per program (its script and working folder), so a restart does not
retry at once what just failed. Private (0600 in a 0700 folder); a file that cannot be
read or written is ignored and logged, never raised into the host."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tui_perf.model.paths import data_dir, private_dir, private_file

log = logging.getLogger("tui_perf.tune")


def program_key() -> str:
    """The same for every run of one program from one folder."""
    argv0 = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "?"
    return hashlib.sha256(f"{argv0}\0{os.getcwd()}".encode()).hexdigest()[:16]


def default_path() -> Path:
    return data_dir() / "tune" / f"{program_key()}.json"


class Learned:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_path()

    def load(self, now: float) -> dict[str, float]:
        """Finding key -> the wall-clock time its cooling-off ends, for those not over."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("tuner: %s could not be read (%s); starting afresh", self.path, exc)
            return {}
        cooling = data.get("cooling") if isinstance(data, dict) else None
        if not isinstance(cooling, dict):
            return {}
        return {
            str(k): float(v)
            for k, v in cooling.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v > now
        }

    def save(self, cooling: Mapping[str, float], now: float) -> None:
        keep = {k: v for k, v in cooling.items() if v > now}
        try:
            private_dir(self.path.parent)
            private_file(self.path)
            tmp = self.path.with_suffix(".tmp")
            private_file(tmp)
            tmp.write_text(json.dumps({"cooling": keep}), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("tuner: %s could not be written: %s", self.path, exc)
