"""The dashboard's modal screens: help, and what becomes of a program when you quit."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# Paragraphs are single lines (the terminal wraps them to its width); key lines stay under
# 72 columns so they fit an 80-column terminal inside the box.
HELP = """\
[b]tui-perf[/b] watches a Python process: memory against its budget, the garbage \
collector, caches, pools and benchmarks. Keys act on the watched process.

  [b]e[/]      emergency cleanup: every rung of the ladder now
  [b]g[/]      full garbage collection
  [b]s[/]      next GC strategy (turns adaptive off)
  [b]a[/]      adaptive GC on/off (strategy follows the tier)
  [b]c[/]      flush the caches' memory tiers (pinned kept)
  [b]b[/]      run the built-in benchmarks (quick, judged on history)
  [b]space[/]  pause the view (sampling and history go on)
  [b]o[/]      Caches: next sort · Profile: own or total time
  [b]↑ ↓[/]    pick the row whose chart is shown
  [b]p f m[/]  Profile: sampling, flame graph file, mark allocations
  [b]enter[/]  Advice: take the selected finding's action · [b]t[/] tuner on/off
  [b]1-9[/]    panes · [b]?[/] this help · [b]ctrl+p[/] all commands
  [b]q[/]      quit (a program `run` started: stop it, or leave it)
  [b], . [ ][/]  replay: a frame back or on, the previous or next event
  [b]x[/]      replay: 1x, 10x, 60x (space plays) · [b]esc[/] back to [b]top[/]

Tiers: NORMAL → ELEVATED → HIGH → CRITICAL, from RSS against the budget. A tier drops \
only once RSS is a margin below its threshold. From HIGH the cleanup ladder runs by itself.

Hit rates are hits over lookups; "freed" figures are RSS measured before and after. \
Each finding in Advice shows the figures it rests on and how its estimate was made.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 100%; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP)


class QuitScreen(ModalScreen[str | None]):
    """Quitting while a program started by `tui-perf run` still runs: stop it, or leave it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop the program"),
        Binding("d", "choose('detach')", "Detach, leave it running"),
        Binding("escape,q", "choose('')", "Stay"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Static { width: 64; max-width: 100%; height: auto; border: round $warning;
                          background: $surface; padding: 1 2; }
    """

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid

    def compose(self) -> ComposeResult:
        yield Static(
            f"The program (pid {self.pid}) is still running.\n\n"
            "  [b]s[/]  stop it (SIGINT, then SIGKILL after 5 s) and quit\n"
            "  [b]d[/]  detach: quit and leave it running "
            f"('tui-perf attach {self.pid}' comes back)\n"
            "  [b]escape[/]  stay"
        )

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
