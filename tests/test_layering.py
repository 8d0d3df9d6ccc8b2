"""The layering in ARCHITECTURE.md, checked: every import of every module, walked with `ast`.

A module may import its own layer and the layers below it, never above. Lazy imports inside
functions and `TYPE_CHECKING` imports count too: a dependency is a dependency, wherever it
is written.

Three more rules, each with a test that plants a violation to show the check can fail:

- No package cycles. A package here is a top-level package of ours (`tui_perf.engine`,
  `tui_perf.caches`, ..., and the lone modules `tui_perf.capabilities`, `tui_perf.__main__`);
  a subpackage (`tui_perf.advice.rules`) is part of its top-level package, because it and
  its parent are one unit (the rules read `advice.window`, the advisor runs the rules) and
  the file-circle check below sees inside it. The facade `tui_perf/__init__.py` is left out,
  as in the layer check: its lazy table names every part, and `from tui_perf import
  __version__` is no dependency on any of them.
- No file circles: within a top-level package, the graph of module-to-module imports has no
  cycle. `TYPE_CHECKING` imports count here too. A type-only circle costs nothing at run
  time, but it is still two modules that cannot be read, tested or moved one without the
  other; the seam is a `Protocol` in the lower module (as `engine.target.CommandTarget` and
  `caches.coherence.LocalCopies` are), not an import hidden from the checker.
- Capabilities in their declared order (`CAPABILITIES`): a capability may import only the
  ones before it, and `tui_perf.capabilities`, which lists them all, comes last.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: the capabilities layer, in order: each may import only those before it (tune judges
#: through bench.compare and acts on advice's findings; advice's bench rule reads bench;
#: profile needs none of them). `tui_perf.capabilities` lists them all, so it is last.
CAPABILITIES = (
    "tui_perf.bench",
    "tui_perf.profile",
    "tui_perf.advice",
    "tui_perf.tune",
    "tui_perf.capabilities",
)

#: bottom to top; the order ARCHITECTURE.md gives
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("tui_perf.model",)),
    ("engine", ("tui_perf.engine",)),
    ("library", ("tui_perf.caches", "tui_perf.pools")),
    ("store", ("tui_perf.store",)),
    ("capabilities", CAPABILITIES),
    ("agent", ("tui_perf.agent",)),
    ("dashboard", ("tui_perf.views", "tui_perf.dashboard", "tui_perf.widgets", "tui_perf.styles")),
    ("face", ("tui_perf.cli", "tui_perf.__main__")),
)

#: what a pane may read: views and the model, never the engine
PANE_MAY_IMPORT = (
    "tui_perf.model",
    "tui_perf.views",
    "tui_perf.widgets",
)
#: what the pure view functions may read: the model (and a finding's text, which the CLI
#: prints the same way), never textual, the engine or the dashboard
VIEWS_MAY_IMPORT = ("tui_perf.model", "tui_perf.views", "tui_perf.advice.report")
#: the widget memory manager is a rung of the ladder: it returns the engine's `Freed`
MANAGER_MAY_ALSO_IMPORT = ("tui_perf.engine.memory",)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in ((ROOT / "tui_perf", "tui_perf"),):
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of ours in the file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tui_perf"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if not module.startswith("tui_perf"):
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else module


def _layer(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations() -> list[str]:
    found: list[str] = []
    for name, path in MODULES.items():
        if name == "tui_perf":
            continue  # the facade: lazy public names from every layer
        mine = _layer(name)
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if mine is None:
            found.append(f"{where}: module {name} belongs to no layer (add it to LAYERS)")
            continue
        for line, target in _imports(name, path):
            if target == "tui_perf":
                continue  # `from tui_perf import __version__`
            theirs = _layer(target)
            if theirs is None:
                found.append(f"{where}:{line}: imports {target}, which belongs to no layer")
            elif theirs > mine:
                found.append(
                    f"{where}:{line}: {LAYERS[mine][0]} imports {target} "
                    f"from the {LAYERS[theirs][0]} layer above it"
                )
            elif name.startswith("tui_perf.widgets."):
                allowed = PANE_MAY_IMPORT + (
                    MANAGER_MAY_ALSO_IMPORT if name == "tui_perf.widgets.managed" else ()
                )
                if not _within(target, allowed):
                    found.append(f"{where}:{line}: a pane imports {target}; read views instead")
            elif _within(name, ("tui_perf.views",)) and not _within(target, VIEWS_MAY_IMPORT):
                found.append(f"{where}:{line}: a view imports {target}; views read the model")
    return found


def _package(module: str) -> str:
    """The top-level package of ours a module belongs to (`tui_perf.advice.rules.caches` ->
    `tui_perf.advice`); a lone module (`tui_perf.capabilities`) is its own."""
    return ".".join(module.split(".")[:2])


def _edges() -> Iterator[tuple[str, str, Path, int]]:
    """(importer, imported, importer's file, line) for every import between two of our
    modules, the facade left out."""
    for name, path in MODULES.items():
        if name == "tui_perf":
            continue
        for line, target in _imports(name, path):
            if target != "tui_perf" and target != name:
                yield name, target, path, line


def _cycles(graph: dict[str, dict[str, str]]) -> list[str]:
    """The cycles a depth-first walk meets (at least one in every tangle, so none is missed),
    once each, as `a -> b -> a` followed by the file and line of each import in the chain."""
    found: dict[tuple[str, ...], str] = {}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                ring = path[path.index(nxt) :]
                key = min(tuple(ring[i:] + ring[:i]) for i in range(len(ring)))
                if key not in found:
                    hops = [*ring, nxt]
                    found[key] = (
                        " -> ".join(hops)
                        + "  ("
                        + ", ".join(graph[a][b] for a, b in pairwise(hops))
                        + ")"
                    )
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return sorted(found.values())


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"


def _package_cycles() -> list[str]:
    graph: dict[str, dict[str, str]] = {}
    for name, target, path, line in _edges():
        mine, theirs = _package(name), _package(target)
        if mine != theirs:
            graph.setdefault(mine, {}).setdefault(theirs, _where(path, line))
    return _cycles(graph)


def _file_circles() -> list[str]:
    graph: dict[str, dict[str, str]] = {}
    for name, target, path, line in _edges():
        if _package(name) == _package(target) and target in MODULES:
            graph.setdefault(name, {}).setdefault(target, _where(path, line))
    return _cycles(graph)


def _capability(module: str) -> int | None:
    for index, prefix in enumerate(CAPABILITIES):
        if _within(module, (prefix,)):
            return index
    return None


def _capability_order_violations() -> list[str]:
    found: list[str] = []
    for name, target, path, line in _edges():
        mine, theirs = _capability(name), _capability(target)
        if mine is not None and theirs is not None and theirs > mine:
            found.append(
                f"{_where(path, line)}: {CAPABILITIES[mine]} imports {target}, "
                f"a capability after it in CAPABILITIES"
            )
    return found


def test_every_import_respects_the_layers() -> None:
    assert _violations() == []


def test_the_model_imports_nothing_of_ours_but_itself() -> None:
    for name, path in MODULES.items():
        if name.startswith("tui_perf.model"):
            outside = [t for _, t in _imports(name, path) if not _within(t, ("tui_perf.model",))]
            assert outside == [], f"{name} imports {outside}"


def test_the_engine_knows_no_capability() -> None:
    """Capabilities register into the engine's command registry; never the other way."""
    for name, path in MODULES.items():
        if name.startswith("tui_perf.engine"):
            for _, target in _imports(name, path):
                assert _layer(target) is not None and _layer(target) <= 1, (name, target)


@pytest.mark.parametrize(
    "package", sorted(n for n, p in MODULES.items() if p.name == "__init__.py" and n != "tui_perf")
)
def test_every_package_says_what_it_owns_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
    assert len(doc.split()) >= 20, f"{package}/__init__.py needs a paragraph on what it owns"


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """A planted engine -> bench import is reported (the check itself can fail)."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from tui_perf.bench.runner import run_benchmarks\n")
    MODULES["tui_perf.engine.planted"] = planted
    try:
        assert any("engine imports tui_perf.bench.runner" in v for v in _violations())
    finally:
        del MODULES["tui_perf.engine.planted"]


def test_no_package_imports_one_that_imports_it_back() -> None:
    assert _package_cycles() == []


def test_no_file_circles_within_a_package() -> None:
    assert _file_circles() == []


def test_a_capability_imports_only_those_before_it() -> None:
    assert _capability_order_violations() == []


def _planted(tmp_path: Path, **sources: str) -> dict[str, Path]:
    """Modules named by `sources` (dots as "__"), written to tmp files and put in MODULES."""
    planted = {}
    for key, text in sources.items():
        path = tmp_path / f"{key}.py"
        path.write_text(text)
        planted[key.replace("__", ".")] = path
    MODULES.update(planted)
    return planted


def test_the_checker_catches_a_package_cycle(tmp_path: Path) -> None:
    """A planted model -> views import closes a circle views -> model -> views."""
    planted = _planted(tmp_path, tui_perf__model__planted="import tui_perf.views.history\n")
    try:
        assert any(
            c.startswith("tui_perf.model -> tui_perf.views -> tui_perf.model")
            for c in _package_cycles()
        ), _package_cycles()
    finally:
        for name in planted:
            del MODULES[name]


def test_the_checker_catches_a_file_circle_and_names_it(tmp_path: Path) -> None:
    """Two planted engine modules importing each other, one only under TYPE_CHECKING."""
    planted = _planted(
        tmp_path,
        tui_perf__engine__planted_a="from tui_perf.engine.planted_b import B\n",
        tui_perf__engine__planted_b=(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from tui_perf.engine.planted_a import A\n"
        ),
    )
    try:
        circles = _file_circles()
        assert any(
            c.startswith(
                "tui_perf.engine.planted_a -> tui_perf.engine.planted_b -> "
                "tui_perf.engine.planted_a  ("
            )
            and "planted_b.py:3" in c
            for c in circles
        ), circles
    finally:
        for name in planted:
            del MODULES[name]


def test_the_checker_catches_a_capability_out_of_order(tmp_path: Path) -> None:
    """bench is first: a planted bench -> tune import is reported, tune -> bench is not."""
    planted = _planted(
        tmp_path,
        tui_perf__bench__planted="def f():\n    from tui_perf.tune.tuner import Tuner\n",
        tui_perf__tune__planted="from tui_perf.bench.compare import judge\n",
    )
    try:
        found = _capability_order_violations()
        assert any("tui_perf.bench imports tui_perf.tune.tuner" in v for v in found), found
        assert not any("tui_perf.tune imports" in v for v in found), found
    finally:
        for name in planted:
            del MODULES[name]


def test_the_checker_keeps_views_to_the_model(tmp_path: Path) -> None:
    planted = _planted(
        tmp_path, tui_perf__views__planted="from tui_perf.engine.core import Engine\n"
    )
    try:
        assert any("a view imports tui_perf.engine.core" in v for v in _violations())
    finally:
        for name in planted:
            del MODULES[name]
