"""No private names of other libraries (issue 28, item 3), unless listed in `ALLOWED` with
the reason and the pin and contract test that keep it honest.

A grep, not an import hook: it reads every .py under tui_perf/ and tests/ for the shapes a
reach into another library's internals takes (name-mangled attributes, private modules,
private hooks), and fails on any occurrence not allowed. A planted violation shows it can
fail.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

#: (name, regex): shapes of another library's private names
PATTERNS: tuple[tuple[str, str], ...] = (
    # `_Cache__data`: an attribute name-mangled by another class (ours define none)
    ("name-mangled", r"\b_[A-Za-z][A-Za-z0-9]*__[a-z][A-Za-z0-9_]*"),
    ("private module", r"\.\s*_utility\b|\bplotext\._[a-z]"),
    # `textual.widgets._footer`: Textual's private modules (query a widget by its type's name)
    ("textual private module", r"\btextual(\.[a-z_]+)*\._[a-z]"),
    ("textual-serve app hook", r"\b_make_app\b"),
    ("snapshot plugin class", r"\bSVGImageExtension\b"),
    ("plotext build steps", r"\._(set_sizes?|build_matrix)\b"),
    ("textual-plotext theme hook", r"\b_get_plotext_theme_name\b"),
)

#: (file, pattern name, justification): what remains, each behind a pin and a contract test
ALLOWED: tuple[tuple[str, str, str], ...] = (
    (
        "tui_perf/caches/memory_tier.py",
        "name-mangled",
        "cachetools' `_Cache__data`, `_Cache__maxsize`, `_LRUCache__order`, `_TTLCache__ttl`: "
        "the lock-free L1 hit path, peek without recency, resize and set_ttl in place. "
        "cachetools is pinned below the next major (pyproject) and "
        "tests/test_no_private_names.py::test_cachetools_internals_we_read pins the behaviour; "
        "if a release renames them, memory_tier falls back to the public path or refuses.",
    ),
    (
        "tui_perf/dashboard/web.py",
        "textual-serve app hook",
        "textual-serve has no public hook before the aiohttp app freezes (middlewares cannot "
        "be added in on_startup); textual-serve is pinned to a tested minor range and "
        "test_textual_serve_make_app_hook checks the hook's name, signature and return type.",
    ),
    (
        "tests/conftest.py",
        "snapshot plugin class",
        "pytest-textual-snapshot has no setting for where snapshots live; the plugin is "
        "pinned exactly (==1.1.0, test extra) and the snapshot tests fail if it moves.",
    ),
    (
        "tui_perf/widgets/chart.py",
        "plotext build steps",
        "the chart builds plotext's matrix without its ANSI round trip, as textual-plotext's "
        "render does; plotext is pinned <6 (==5.3.2 for tests) and "
        "tests/test_dashboard.py checks the result equals the parsed ANSI.",
    ),
    (
        "tui_perf/widgets/chart.py",
        "textual-plotext theme hook",
        "the theme name textual-plotext's own render uses; pinned ==1.0.1 for tests, and "
        "the snapshot tests show a change.",
    ),
)

SCANNED = ("tui_perf", "tests")


def violations(root: Path, allowed: tuple[tuple[str, str, str], ...] = ALLOWED) -> list[str]:
    """`file:line: pattern: text` for every private name not allowed, under `root`."""
    ok = {(file, name) for file, name, _ in allowed}
    compiled = [(name, re.compile(rx)) for name, rx in PATTERNS]
    found: list[str] = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel == "tests/test_no_private_names.py":
                continue  # the patterns themselves
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for name, rx in compiled:
                    if rx.search(line) and (rel, name) not in ok:
                        found.append(f"{rel}:{lineno}: {name}: {line.strip()}")
    return found


def test_no_private_names_of_other_libraries() -> None:
    assert violations(ROOT) == []


def test_every_allowance_is_still_needed() -> None:
    """An allowance whose use is gone is removed, not kept as a blank cheque."""
    for file, name, why in ALLOWED:
        assert why
        rx = re.compile(dict(PATTERNS)[name])
        text = (ROOT / file).read_text(encoding="utf-8")
        assert rx.search(text), f"{file} no longer uses {name}: drop it from ALLOWED"


def test_a_planted_violation_is_reported(tmp_path: Path) -> None:
    pkg = tmp_path / "tui_perf"
    pkg.mkdir()
    (tmp_path / "tests").mkdir()
    (pkg / "planted.py").write_text(
        "import plotext._utility as u\n"
        "x = cache._Cache__data\n"
        "fine = obj.__dict__\n"
        "y = server._make_app()\n"
    )
    found = violations(tmp_path)
    assert [f.split(": ")[1] for f in found] == [
        "private module",
        "name-mangled",
        "textual-serve app hook",
    ]
    # the same file allowed for one pattern still reports the others
    allowed = (("tui_perf/planted.py", "name-mangled", "a test"),)
    assert len(violations(tmp_path, allowed)) == 2


# -- contract tests for what ALLOWED keeps ------------------------------------------------


def test_cachetools_internals_we_read() -> None:
    """The cachetools internals memory_tier reads behave as it assumes."""
    from collections import OrderedDict

    import cachetools

    c: cachetools.LRUCache[int, int] = cachetools.LRUCache(3)
    for k in range(3):
        c[k] = k * 10
    data = getattr(c, "_Cache__data")  # noqa: B009
    order = getattr(c, "_LRUCache__order")  # noqa: B009
    assert type(data) is dict and data == {0: 0, 1: 10, 2: 20}  # the dict is the storage
    assert isinstance(order, OrderedDict) and list(order) == [0, 1, 2]
    assert data[0] == 0 and list(order) == [0, 1, 2]  # reading the dict touches no recency
    _ = c[0]
    assert list(order) == [1, 2, 0]  # the order is kept in recency order
    order.move_to_end(1)  # what the fast path does on a hit
    c[3] = 30
    assert 2 not in c and set(data) == {0, 1, 3}  # ... and the eviction follows it
    setattr(c, "_Cache__maxsize", 2)  # noqa: B010
    assert c.maxsize == 2  # setting maxsize in place takes effect
    c[4] = 40
    assert len(c) == 2
    for cls in (cachetools.FIFOCache, cachetools.RRCache, cachetools.LFUCache):
        assert type(getattr(cls(2), "_Cache__data")) is dict  # noqa: B009
    t: cachetools.TTLCache[int, int] = cachetools.TTLCache(2, ttl=5)
    assert getattr(t, "_TTLCache__ttl") == 5  # noqa: B009
    setattr(t, "_TTLCache__ttl", 7)  # noqa: B010
    assert t.ttl == 7


def test_cachetools_pinned_below_next_major() -> None:
    import cachetools

    pyproject = (ROOT / "pyproject.toml").read_text()
    pin = re.search(r'"cachetools>=[\d.]+,<(\d+)"', pyproject)
    assert pin, "cachetools needs an upper bound while memory_tier reads its internals"
    assert int(cachetools.__version__.split(".")[0]) < int(pin.group(1))


def test_textual_serve_make_app_hook() -> None:
    import inspect

    from aiohttp import web
    from textual_serve.server import Server

    hook = getattr(Server, "_make_app")  # noqa: B009
    assert inspect.iscoroutinefunction(hook)
    assert list(inspect.signature(hook).parameters) == ["self"]
    assert "web.Application" in str(inspect.signature(hook).return_annotation) or (
        inspect.signature(hook).return_annotation is web.Application
    )
    # and it is what serve() runs
    assert "self._make_app()" in inspect.getsource(Server.serve)


def test_chart_colour_codes_match_plotext() -> None:
    """chart.colors_to_ansi, our copy of plotext's private one (the only reach into
    plotext._utility left is this differential test, which the scan skips)."""
    import itertools

    import plotext._utility as plotext_utility

    from tui_perf.widgets.chart import colors_to_ansi

    colors = ["default", "cyan", " red+ ", "gray", 3, 255, 256, (1, 2, 3), "not-a-colour"]
    styles = ["default", "bold", "bold italic", "underline double-underline", "", " dim x"]
    for fg, style, bg in itertools.product(colors, styles, colors):
        assert colors_to_ansi(fg, style, bg) == plotext_utility.colors_to_ansi(fg, style, bg)


def test_snapshot_plugin_reads_the_extension_we_replace() -> None:
    """conftest swaps the module's `SVGImageExtension`; that works while `snap_compare`
    looks the name up in its module at call time."""
    import inspect

    import pytest_textual_snapshot as plugin

    assert "use_extension(SVGImageExtension)" in inspect.getsource(plugin.snap_compare)
    assert plugin.SVGImageExtension.__name__ == "_SnapshotsInRepo"  # conftest's, in place
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"pytest-textual-snapshot==' in pyproject  # pinned exactly
