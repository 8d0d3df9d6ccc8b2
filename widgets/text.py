"""Label-value blocks for the panes, as Rich grids (markup would swallow the padding)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text


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
