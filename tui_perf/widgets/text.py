"""Label-value blocks for the panes, as Rich grids (markup would swallow the padding)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tui_perf.widgets.managed import ManagedWidget


def fields(rows: Sequence[tuple[str, str | Text]], label_width: int = 11) -> Table:
    """Two columns: a bold label, then its value (plain strings are not read as markup)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", width=label_width, no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else Text(value))
    return grid


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A small right-aligned table without borders (per-generation GC figures)."""
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for i, name in enumerate(header):
        table.add_column(
            name,
            justify="left" if i == 0 else "right",
            no_wrap=True,
            min_width=len(name) if i else 5,
        )
    for row in rows:
        table.add_row(*row)
    return table


class InfoBlock(ManagedWidget):
    """A block of text that repaints without a layout pass when its height is unchanged.

    `Static.update()` asks for a full layout on every call; the panes update their figures
    every second, and a reflow of the whole screen each time is most of an idle
    dashboard's CPU. Identical content is skipped; a new height still reflows.
    """

    DEFAULT_CSS = """
    InfoBlock { height: auto; }
    """

    def __init__(self, renderable: RenderableType = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._renderable: RenderableType = renderable
        self._key: Hashable = None
        self._lines = -1

    def set(self, renderable: RenderableType, key: Hashable, lines: int) -> None:
        """Show `renderable`; `key` says whether it changed, `lines` how tall it is."""
        if key == self._key:
            return
        self._key = key
        self._renderable = renderable
        self.refresh(layout=lines != self._lines)
        self._lines = lines

    def render(self) -> RenderableType:
        # building is reading a field; Textual keeps the lines it drew until the next refresh
        return self._renderable
