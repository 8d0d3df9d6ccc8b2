"""A plotext chart drawn from a frozen `ChartSpec`, redrawn only when the spec changes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.ansi import AnsiDecoder
from rich.style import Style
from rich.text import Text
from textual.timer import Timer
from textual_plotext import PlotextPlot

from tui_perf.views.history import downsample_max
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
            self.refresh()
        self._pending = None
        self._last_build = time.monotonic()

    def render(self) -> Any:
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
            ticks = sorted({x for line in spec.lines for x in line.x})
            step = max(1, len(ticks) // 8)
            plt.xticks(ticks[::step], [f"{x:.0f}" for x in ticks[::step]])
        return self._plot_text()

    def _plot_text(self) -> Text:
        """What `PlotextPlot.render` returns, without its round trip through ANSI.

        plotext writes its matrix of cells out as ANSI text and textual-plotext parses that
        back into a `Text`: 18 ms a chart of 120x30, nearly all of the dashboard's CPU at
        1 Hz. Here the matrix becomes the same `Text` directly, run by run; each run's
        style is the one Rich's decoder gives plotext's codes for those colours (worked out
        once per colour triple), so the result is equal to the parsed one (tested).
        """
        # plotext's figure internals, pinned (<6) and held by tests/test_no_private_names.py
        plot: Any = self._plot
        plot.plotsize(self.size.width, self.size.height)
        plot._set_size(self.size.width, self.size.height)  # as PlotextPlot.render does
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        plot._set_sizes()
        plot._build_matrix()
        return matrix_text(plot.monitor.matrix)


#: plotext 5's colour names -> 256-colour codes, and its style names -> SGR codes
_COLOR_CODES = {
    "black": 0, "white": 15, "gray": 8, "gray+": 7, "red": 1, "red+": 9, "green": 2,
    "green+": 10, "orange": 3, "orange+": 11, "blue": 4, "blue+": 12, "magenta": 5,
    "magenta+": 13, "cyan": 6, "cyan+": 14,
}  # fmt: skip
_STYLE_CODES = {
    "bold": 1, "dim": 2, "italic": 3, "underline": 4, "double-underline": 21, "strike": 9,
    "inverted": 7, "flash": 5,
}  # fmt: skip


def _color_code(color: Any, prefix: str) -> str:
    """The SGR code plotext writes for a colour (a name, 0-255 or an RGB triple), or ''."""
    if isinstance(color, str) and color.strip() in _COLOR_CODES:
        return f"\x1b[{prefix}5;{_COLOR_CODES[color.strip()]}m"
    if isinstance(color, int) and 0 <= color <= 255:
        return f"\x1b[{prefix}5;{color}m"
    if (
        isinstance(color, list | tuple)
        and len(color) == 3
        and all(isinstance(c, int) and 0 <= c <= 255 for c in color)
    ):
        return f"\x1b[{prefix}2;{';'.join(str(c) for c in color)}m"
    return ""


def colors_to_ansi(fullground: Any, style: Any, background: Any) -> str:
    """The codes plotext 5 starts a run of these colours with (its own `colors_to_ansi`
    lives in a private module): background, then foreground, then the text styles."""
    codes = _color_code(background, "48;") + _color_code(fullground, "38;")
    if isinstance(style, str):
        styles = sorted({_STYLE_CODES[s] for s in style.split() if s in _STYLE_CODES})
        if styles:
            codes += f"\x1b[{';'.join(map(str, styles))}m"
    return codes


#: (foreground, style, background) as plotext keeps them -> the style Rich reads from the
#: codes plotext writes for them (None: no codes)
_STYLES: dict[str, Style | None] = {}


def _style(colors: list[Any]) -> Style | None:
    key = repr(colors)
    if key not in _STYLES:
        line = AnsiDecoder().decode_line(colors_to_ansi(*colors) + "x")
        _STYLES[key] = line.spans[0].style if line.spans else None  # type: ignore[assignment]
    return _STYLES[key]


def matrix_text(matrix: Any) -> Text:
    """`Text.from_ansi(matrix.set_canvas())` for a plotext matrix, without the ANSI: plotext
    starts a code where a cell's colours differ from the one before and resets after each
    run, so each run of equal colours is one span of its colours' style."""
    lines: list[Text] = []
    marker, fullground, style, background = (
        matrix.marker,
        matrix.fullground,
        matrix.style,
        matrix.background,
    )
    for row in matrix.Rows[::-1]:
        line = Text()
        markers, fg, st, bg = marker[row], fullground[row], style[row], background[row]
        start = 0
        cols = matrix.cols
        for col in range(1, cols + 1):
            if col == cols or fg[col] != fg[start] or st[col] != st[start] or bg[col] != bg[start]:
                line.append("".join(markers[start:col]), _style([fg[start], st[start], bg[start]]))
                start = col
        lines.append(line)
    lines.append(Text())  # the canvas ends with a newline: the decoder reads one empty line
    return Text("\n", end="\n", tab_size=8).join(lines)
