"""`@benchmark` and loading benchmarks from files and modules (`lookup.find`: one by name).

A benchmark is either a function taking `loops` (it runs its operation that many times; the
runner divides) or a plain function with no arguments (timed in a calibrated loop by the
runner). `async def` works for both. `params={"size": [10, 1000]}` expands into one
benchmark per value, named `name[size=10]`, called with the value as a keyword.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from tui_perf.model.errors import TuiPerfError

F = TypeVar("F", bound=Callable[..., Any])


class BenchmarkError(TuiPerfError):
    """A benchmark file or module that cannot be loaded, or a bad registration."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    group: str
    fn: Callable[..., Any]
    takes_loops: bool
    is_async: bool
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


#: Everything registered by `@benchmark` so far, in registration order.
REGISTERED: list[Benchmark] = []


@overload
def benchmark(name: F) -> F: ...


@overload
def benchmark(
    name: str | None = None,
    group: str | None = None,
    params: Mapping[str, Sequence[Any]] | None = None,
) -> Callable[[F], F]: ...


def benchmark(
    name: str | F | None = None,
    group: str | None = None,
    params: Mapping[str, Sequence[Any]] | None = None,
) -> Callable[[F], F] | F:
    """Register a function as a benchmark; `@benchmark` and `@benchmark()` alike.

    The function takes `loops` and runs its operation that many times (the runner divides
    the time), or takes nothing and is called in a timed loop. `async def` works for both.

        @benchmark
        def parse(loops):
            for _ in range(loops):
                parse_config(TEXT)

        @benchmark(group="io", params={"size": [10, 1000]})   # parse[size=10], parse[size=1000]
        def write(loops, size): ...

    `name` defaults to the function's name, `group` to its module's. Run them with
    `tui-perf bench FILE`; see README "What a benchmark verdict means".
    """
    if callable(name):  # bare @benchmark
        return benchmark()(name)

    def register(fn: F) -> F:
        sig = inspect.signature(fn)
        names = [p for p in sig.parameters if p not in (params or {})]
        takes_loops = "loops" in names
        extra = [
            p
            for p in names
            if p != "loops" and sig.parameters[p].default is inspect.Parameter.empty
        ]
        if extra:
            raise BenchmarkError(
                f"benchmark {fn.__qualname__}: unexpected parameters {extra} "
                "(take only `loops`, or declare them in params=)"
            )
        base = name or fn.__name__
        grp = group or fn.__module__.rsplit(".", 1)[-1]
        combos: Iterable[tuple[Any, ...]] = [()]
        keys: list[str] = []
        if params:
            keys = list(params)
            combos = itertools.product(*(params[k] for k in keys))
        for combo in combos:
            kwargs = dict(zip(keys, combo, strict=True))
            label = base + (
                f"[{','.join(f'{k}={v}' for k, v in kwargs.items())}]" if kwargs else ""
            )
            REGISTERED.append(
                Benchmark(
                    label,
                    grp,
                    fn,
                    takes_loops,
                    inspect.iscoroutinefunction(fn),
                    kwargs,
                    fn.__module__,
                )
            )
        return fn

    return register


def load(
    targets: Sequence[str], *, require: bool = True, modules: list[Any] | None = None
) -> list[Benchmark]:
    """Import each file path or module name and return the benchmarks it registered.

    `require=False` accepts a target without benchmarks; `modules` collects the modules.
    """
    found: list[Benchmark] = []
    for target in targets:
        before = len(REGISTERED)
        path = Path(target)
        if target.endswith(".py") or path.exists():
            if not path.is_file():
                raise BenchmarkError(f"no benchmark file at {target}")
            mod_name = f"_tui_perf_bench_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise BenchmarkError(f"cannot load {target}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise BenchmarkError(f"{target}: {type(exc).__name__}: {exc}") from exc
        else:
            try:
                module = importlib.import_module(target)
            except ModuleNotFoundError as exc:
                raise BenchmarkError(f"no benchmark file or module named {target!r}") from exc
            except Exception as exc:
                raise BenchmarkError(f"{target}: {type(exc).__name__}: {exc}") from exc
        if modules is not None:
            modules.append(module)
        new = REGISTERED[before:]
        if not new and require:
            raise BenchmarkError(f"{target} defines no @benchmark functions")
        found.extend(new)
    return found
