"""The layering in ARCHITECTURE.md, checked: every import of every module, walked with `ast`.

A module may import its own layer and the layers below it, never above. Lazy imports inside
functions and `TYPE_CHECKING` imports count too: a dependency is a dependency, wherever it
is written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: bottom to top; the order ARCHITECTURE.md gives
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("tui_perf.model",)),
    ("engine", ("tui_perf.engine",)),
    ("library", ("tui_perf.caches", "tui_perf.pools")),
    ("store", ("tui_perf.store",)),
    (
        "capabilities",
        (
            "tui_perf.capabilities",
            "tui_perf.bench",
            "tui_perf.profile",
            "tui_perf.advice",
            "tui_perf.tune",
        ),
    ),
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
#: the widget memory manager is a rung of the ladder: it keeps row state in a pool and
#: registers with the engine's registry
MANAGER_MAY_ALSO_IMPORT = ("tui_perf.pools", "tui_perf.engine.registry", "tui_perf.engine.memory")


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
