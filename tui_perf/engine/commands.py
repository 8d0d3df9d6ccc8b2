"""Commands by name: what a key in the dashboard or a message from the agent asks an engine to do.

The engine knows no capability by name. The engine's own commands (cleanup, GC) and each
capability's (benchmarks now; profiling, advice and tuning next) are registered here, and
`Engine.command` dispatches by name. Every command declares its arguments, so input from a
key, a wire message or a script is checked (type, range, choices) before anything runs, and
refused with an error that names the argument.

A command also declares how its result reads to a person (`describe`): a pure function of the
reply dict, written beside the handler, so the dashboard needs no list of command names. It
may use only `tui_perf.model` (formatting), because the capabilities sit below the dashboard.

Capabilities register when their `commands` module is imported; `tui_perf.capabilities.load()`
imports all of them, and the parts that serve commands (the dashboard's local source, the
agent) call it. A library user who only builds an `Engine` pays for none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_perf.model.errors import ConfigError

if TYPE_CHECKING:
    from tui_perf.engine.target import CommandTarget as Engine


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True, slots=True)
class Arg:
    """One declared argument: its type, its default, and the values it may take."""

    name: str
    kind: type  # bool, int, float or str (JSON's scalars)
    default: Any = REQUIRED
    #: None is accepted (and means "not given")
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    def check(self, command: str, value: Any) -> Any:
        """The value, checked; raises `ConfigError` naming the command and the argument."""
        where = f"{command}: argument {self.name!r}"
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{where} may not be null")
        # bool is a subclass of int: true is not a generation, 1 is not a switch.
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.kind) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{where} must be {self.kind.__name__}, got {value!r}")
        if self.kind is float:
            value = float(value)
            if value != value:  # NaN passes every range check
                raise ConfigError(f"{where} must be a number, got NaN")
        if self.low is not None and value < self.low:
            raise ConfigError(f"{where} must be at least {self.low:g}, got {value!r}")
        if self.high is not None and value > self.high:
            raise ConfigError(f"{where} must be at most {self.high:g}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            options = ", ".join(map(str, self.choices))
            raise ConfigError(f"{where} must be one of {options}, got {value!r}")
        return value


Handler = Callable[..., dict[str, Any]]
#: a reply dict -> the one or two lines a person reads in a toast and in Events ("; " parts:
#: the toast shows the first, Events the whole)
Describe = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True, slots=True)
class Command:
    """A named command: `handler(engine, **checked_args)` returns a JSON-ready dict."""

    name: str
    #: what a person reads in a title or a notification ("Emergency cleanup")
    title: str
    handler: Handler
    args: tuple[Arg, ...] = ()
    #: acts on the interpreter, so it needs the engine inside the target process
    needs_local: bool = True
    #: seconds a remote caller should wait for the reply
    timeout: float = 30.0
    #: how the reply reads to a person; None: the dashboard's generic reading
    describe: Describe | None = None

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments checked against the declaration, defaults filled in."""
        declared = {a.name: a for a in self.args}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            allowed = ", ".join(declared) or "none"
            raise ConfigError(
                f"{self.name}: unknown argument {unknown[0]!r} (arguments: {allowed})"
            )
        out: dict[str, Any] = {}
        for arg in self.args:
            if arg.name in given:
                out[arg.name] = arg.check(self.name, given[arg.name])
            elif arg.default is REQUIRED:
                raise ConfigError(f"{self.name}: argument {arg.name!r} is required")
            else:
                out[arg.name] = arg.default
        return out


class CommandRegistry:
    """Name -> `Command`. Registering a name again replaces it (a module reloaded in tests)."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._lock = threading.Lock()

    def add(self, command: Command) -> Command:
        with self._lock:
            self._commands[command.name] = command
        return command

    def register(
        self,
        name: str,
        title: str,
        *args: Arg,
        needs_local: bool = True,
        timeout: float = 30.0,
        describe: Describe | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator form of `add` for a `handler(engine, **args)` function."""

        def decorate(handler: Handler) -> Handler:
            self.add(Command(name, title, handler, args, needs_local, timeout, describe))
            return handler

        return decorate

    def remove(self, name: str) -> None:
        """Forget a command (one a test registered for itself)."""
        with self._lock:
            self._commands.pop(name, None)

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def names(self) -> list[str]:
        return sorted(self._commands)

    def lookup(self, name: str) -> Command:
        command = self._commands.get(name)
        if command is None:
            raise ConfigError(f"unknown command {name!r}; one of {', '.join(self.names())}")
        return command

    def run(self, engine: Engine, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        command = self.lookup(name)
        bound = command.bind(args)
        if command.needs_local and not engine.local:
            raise ConfigError(f"{command.title} needs the agent inside the target process")
        return command.handler(engine, **bound)


#: The process's commands: the engine's own, and every capability that was loaded.
COMMANDS = CommandRegistry()
