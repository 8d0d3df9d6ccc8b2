"""Tables at any width: which columns fit, dropping whole columns in a pane's chosen order."""

from __future__ import annotations

from collections.abc import Sequence


def columns_that_fit(
    labels: Sequence[str],
    drop_first: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    padding: int = 2,
) -> tuple[str, ...]:
    """The columns to show in `width` cells: all when they fit, else the ones in
    `drop_first` left out in that order until the rest fit (whole columns, never a header cut
    mid-word). `rows` are the cells' plain text, in `labels` order."""
    natural = {
        label: max([len(label), *(len(r[i]) for r in rows if i < len(r))]) + padding
        for i, label in enumerate(labels)
    }
    shown = list(labels)
    for label in drop_first:
        if width <= 0 or sum(natural[c] for c in shown) <= width:
            break
        if label in shown:
            shown.remove(label)
    return tuple(shown)
