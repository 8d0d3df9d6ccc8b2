"""Advice you can check: rules over a window of snapshots, each finding with its evidence,
its action and how its estimate was made; miss-ratio curves from each cache's own key
stream (SHARDS). No UI imports.
"""

from __future__ import annotations

from tui_perf.advice.advisor import Advice, Advisor
from tui_perf.advice.rules import BUILTIN, Rule, builtin_rules
from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import Window

__all__ = ["BUILTIN", "Advice", "AdviceSettings", "Advisor", "Rule", "Window", "builtin_rules"]
