"""The rule interface and the small formatting helpers findings share.

Rules: small classes, each with an id, a description and `check(window)`.

A rule returns a `Finding`, several (one per cache or pool), or None. It says nothing when
the window is too short to judge or the figures it needs are not there: silence is the
answer to "I cannot tell". Every finding carries the measured figures it rests on and, for
an estimate, how the estimate was made.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import Window
from tui_perf.model.advice import Finding

Result = Finding | Iterable[Finding] | None
MIB = 1024 * 1024


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


class Rule:
    """Subclass and set `id` and `description`; `check` reads `self.settings`."""

    id: str = ""
    description: str = ""

    def __init__(self, settings: AdviceSettings | None = None) -> None:
        self.settings = settings or AdviceSettings()

    def check(self, window: Window) -> Result:  # pragma: no cover - the interface
        raise NotImplementedError

    def judgeable(self, window: Window) -> bool:
        s = self.settings
        return window.long_enough(s.min_window_s, s.min_snapshots)
