"""A plotext chart that renders through the widget manager's cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual.timer import Timer
from textual_plotext import PlotextPlot

from tui_perf.dashboard.views import downsample_max
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
    vlines: tuple[tuple[float, str], ...] = ()  # (x, color): "you are here"
    xticks: tuple[tuple[float, str], ...] = ()  # (x, label): ticks named by the caller
    empty: str = "waiting for data"


class Chart(PlotextPlot, ManagedWidget):
    """Each instance has its own `plt` (never module-global plotext)."""

    DEFAULT_CSS = """
    Chart { height: 1fr; min-height: 8; }
    """

    def __init__(self, spec: ChartSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self._pending: ChartSpec | None = None
        self._last_build = float("-inf")
        self._timer: Timer | None = None

    @property
    def min_interval(self) -> float:
        """Seconds between redraws (the app's `chart_interval`; 0 redraws at every change).

        Building a chart costs tens of ms (plotext, then parsing its ANSI output), and a
        chart of minutes gains nothing from a redraw every second; the numbers beside it
        still update at every snapshot.
        """
        return float(getattr(self.app, "chart_interval", 0.0))

    def show(self, spec: ChartSpec) -> None:
        """New data: redraw now, or once the minimum interval has passed. A new subject (the
        person picked another row, so the title changed) is drawn at once."""
        if spec == self.spec and self._pending is None:
            return
        self._pending = spec
        wait = self._last_build + self.min_interval - time.monotonic()
        if wait <= 0 or spec.title != self.spec.title:  # a new subject (another row): now
            self._apply()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._apply)

    def _apply(self) -> None:
        self._timer = None
        if self._pending is None:
            return
        if self._pending != self.spec:
            self.spec = self._pending
            self.data_version += 1  # a new render cache key
            self.refresh()
        self._pending = None
        self._last_build = time.monotonic()

    def render(self) -> Any:
        return self.cached_render(self._build)

    def _build(self) -> Any:
        plt = self.plt
        spec = self.spec
        plt.clear_figure()
        # The legend goes in the title: plotext draws it over the data's top-left corner.
        drawn = [line for line in spec.lines if line.x]
        legend = (
            " · ".join(f"{line.label} {line.color}" for line in drawn) if len(drawn) > 1 else ""
        )
        title = f"{spec.title} · {legend}" if legend else spec.title
        plt.title(title if spec.lines else f"{spec.title}: {spec.empty}")
        if spec.xlabel:
            plt.xlabel(spec.xlabel)
        width = max(10, self.size.width - 10)  # columns left for the plot itself
        for line in spec.lines:
            if line.x:
                xs, ys = downsample_max(line.x, line.y, width)
                plt.plot(
                    list(xs),
                    list(ys),
                    color=line.color,
                    marker="braille",
                    yside="right" if line.right else "left",
                )
        for y, color in spec.hlines:
            plt.hline(y, color)
        for x, color in spec.vlines:
            plt.vline(x, color)
        if spec.xticks:
            plt.xticks([x for x, _ in spec.xticks], [label for _, label in spec.xticks])
        if spec.ylim is not None:
            plt.ylim(*spec.ylim)
        if spec.integer_x:
            xs = sorted({x for line in spec.lines for x in line.x})
            step = max(1, len(xs) // 8)
            plt.xticks(xs[::step], [f"{x:.0f}" for x in xs[::step]])
        return super().render()
