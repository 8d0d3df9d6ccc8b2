"""A plotext chart that renders through the widget manager's cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual_plotext import PlotextPlot

from tui_perf.widgets.managed import ManagedWidget


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str = "cyan"
    right: bool = False  # on the right-hand y axis (a different scale)


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    xlabel: str = ""
    lines: tuple[Line, ...] = ()
    hlines: tuple[tuple[float, str], ...] = ()  # (y, color): thresholds
    ylim: tuple[float, float] | None = None
    integer_x: bool = False  # x is a count (runs): tick whole numbers only
    empty: str = "waiting for data"


class Chart(PlotextPlot, ManagedWidget):
    """Each instance has its own `plt` (never module-global plotext)."""

    DEFAULT_CSS = """
    Chart { height: 1fr; min-height: 8; }
    """

    def __init__(self, spec: ChartSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def show(self, spec: ChartSpec) -> None:
        """New data: bump the version (a new render cache key) and repaint."""
        if spec != self.spec:
            self.spec = spec
            self.data_version += 1
            self.refresh()

    def render(self) -> Any:
        return self.cached_render(self._build)

    def _build(self) -> Any:
        plt = self.plt
        spec = self.spec
        plt.clear_figure()
        plt.title(spec.title if spec.lines else f"{spec.title}: {spec.empty}")
        if spec.xlabel:
            plt.xlabel(spec.xlabel)
        for line in spec.lines:
            if line.x:
                plt.plot(
                    list(line.x),
                    list(line.y),
                    label=line.label,
                    color=line.color,
                    marker="braille",
                    yside="right" if line.right else "left",
                )
        for y, color in spec.hlines:
            plt.hline(y, color)
        if spec.ylim is not None:
            plt.ylim(*spec.ylim)
        if spec.integer_x:
            xs = sorted({x for line in spec.lines for x in line.x})
            step = max(1, len(xs) // 8)
            plt.xticks(xs[::step], [f"{x:.0f}" for x in xs[::step]])
        return super().render()
