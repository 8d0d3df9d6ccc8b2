"""Tuning profiles as data: TOML files, the five shipped ones and any a user adds.

A profile sets the memory budget's share, the GC strategy and its adaptive map, the caps
the tuner may not pass (cache entries and share of the budget, TTL bounds, pool sizes) and
the tuner's guardrails. Every key is checked: a misspelt or mistyped one is an error
naming the file and the key, never silently ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tui_perf.model.errors import ConfigError

SHIPPED = Path(__file__).with_name("profile_files")
TIERS = ("NORMAL", "ELEVATED", "HIGH", "CRITICAL")
GC_STRATEGIES = ("throughput", "balanced", "default", "strict")


@dataclass(frozen=True, slots=True)
class MemorySection:
    budget_share: float = 0.5  # of the cgroup limit, or of physical memory


@dataclass(frozen=True, slots=True)
class GcSection:
    strategy: str = "balanced"
    adaptive: bool = True
    adaptive_map: dict[str, str] = field(default_factory=dict)  # tier -> strategy


@dataclass(frozen=True, slots=True)
class CachesSection:
    max_share: float = 0.25  # of the memory budget, for any one cache
    max_entries: int = 1_000_000
    min_ttl_s: float = 1.0
    max_ttl_s: float = 3600.0
    #: the tuner sizes a cache for this share of the gain its curve shows within the caps
    #: (a person's advice asks for 0.9; a change that is measured and undone can ask more)
    gain_share: float = 0.98


@dataclass(frozen=True, slots=True)
class PoolsSection:
    max_size: int = 64
    max_idle: int = 16


@dataclass(frozen=True, slots=True)
class TunerSection:
    #: at most `max_changes` changes started per `interval_s`
    interval_s: float = 60.0
    max_changes: int = 1
    #: after a change, wait `settle_s`, then measure `window_s` (the window before it is as
    #: long); the target must move by more than `min_effect` (relative) beyond noise
    settle_s: float = 5.0
    window_s: float = 30.0
    min_effect: float = 0.05
    #: a rolled-back change is not tried again for this long
    cooldown_s: float = 600.0
    #: the share of the memory budget RSS may grow by during a trial and the change be kept
    max_rss_growth: float = 0.10
    #: how much the GC pause p99 may grow (1.0: double) beyond noise and the change be kept:
    #: a latency profile allows none, a throughput profile trades pauses for work done
    max_pause_growth: float = 1.0


@dataclass(frozen=True, slots=True)
class TuneProfile:
    name: str
    description: str
    memory: MemorySection = field(default_factory=MemorySection)
    gc: GcSection = field(default_factory=GcSection)
    caches: CachesSection = field(default_factory=CachesSection)
    pools: PoolsSection = field(default_factory=PoolsSection)
    tuner: TunerSection = field(default_factory=TunerSection)
    source: str = ""  # the file it came from


_SECTIONS: dict[str, type] = {
    "memory": MemorySection,
    "gc": GcSection,
    "caches": CachesSection,
    "pools": PoolsSection,
    "tuner": TunerSection,
}
#: (section.key) -> (low, high) inclusive bounds of numbers
_BOUNDS: dict[str, tuple[float, float]] = {
    "memory.budget_share": (0.01, 1.0),
    "caches.max_share": (0.001, 1.0),
    "caches.max_entries": (1, 1 << 31),
    "caches.min_ttl_s": (0.001, 1e9),
    "caches.max_ttl_s": (0.001, 1e9),
    "caches.gain_share": (0.1, 1.0),
    "pools.max_size": (1, 1 << 20),
    "pools.max_idle": (0, 1 << 20),
    "tuner.interval_s": (1.0, 86400.0),
    "tuner.max_changes": (1, 100),
    "tuner.settle_s": (0.0, 3600.0),
    "tuner.window_s": (5.0, 3600.0),
    "tuner.min_effect": (0.001, 1.0),
    "tuner.cooldown_s": (0.0, 1e7),
    "tuner.max_rss_growth": (0.0, 1.0),
    "tuner.max_pause_growth": (0.0, 1000.0),
}


def parse_profile(name: str, text: str, source: str = "") -> TuneProfile:
    """A profile from TOML text; `ConfigError` names the file and the bad key."""
    where = source or name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {where}: not valid TOML: {exc}") from None
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"profile {where}: description must be a string")
    sections: dict[str, Any] = {}
    for key, value in data.items():
        cls = _SECTIONS.get(key)
        if cls is None:
            known = ", ".join(["description", *_SECTIONS])
            raise ConfigError(f"profile {where}: unknown key {key!r} (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"profile {where}: {key} must be a table ([{key}])")
        sections[key] = _section(cls, key, value, where)
    profile = TuneProfile(name, description, **sections, source=source)
    if profile.caches.min_ttl_s > profile.caches.max_ttl_s:
        raise ConfigError(f"profile {where}: caches.min_ttl_s is above caches.max_ttl_s")
    if profile.pools.max_idle > profile.pools.max_size:
        raise ConfigError(f"profile {where}: pools.max_idle is above pools.max_size")
    return profile


def _section(cls: type, section: str, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{section}.{key}"
        spec = known.get(key)
        if spec is None:
            raise ConfigError(f"profile {where}: unknown key {path!r} (known: {', '.join(known)})")
        out[key] = _check(path, spec.type, value, where)
    return cls(**out)


def _check(path: str, kind: object, value: object, where: str) -> object:
    """The value, converted where TOML's types are narrower than ours (an int for a
    float), or a `ConfigError` saying what the key must be."""
    kind = str(kind)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"profile {where}: {path} must be true or false, got {value!r}")
        return value
    if kind == "str":
        if path == "gc.strategy" and value not in GC_STRATEGIES:
            raise ConfigError(
                f"profile {where}: {path} must be one of {', '.join(GC_STRATEGIES)}, got {value!r}"
            )
        return value
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise ConfigError(f"profile {where}: {path} must be a table of tier = strategy")
        for tier, strategy in value.items():
            if tier not in TIERS:
                raise ConfigError(
                    f"profile {where}: {path}.{tier}: not a memory tier ({', '.join(TIERS)})"
                )
            if strategy not in GC_STRATEGIES:
                raise ConfigError(
                    f"profile {where}: {path}.{tier} must be one of {', '.join(GC_STRATEGIES)}"
                )
        return dict(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"profile {where}: {path} must be a number, got {value!r}")
    if kind == "int" and not isinstance(value, int):
        raise ConfigError(f"profile {where}: {path} must be a whole number, got {value!r}")
    low, high = _BOUNDS[path]
    if not low <= value <= high:
        raise ConfigError(f"profile {where}: {path} must be in [{low:g}, {high:g}], got {value}")
    return value if kind == "int" else float(value)


def user_profile_dir() -> Path:
    from tui_perf.model.paths import data_dir

    return data_dir() / "profiles.d"


def available(user_dir: Path | None = None) -> dict[str, Path]:
    """Profile name -> its file: the shipped ones, then the user's (which win by name)."""
    found = {p.stem: p for p in sorted(SHIPPED.glob("*.toml"))}
    folder = user_dir if user_dir is not None else user_profile_dir()
    if folder.is_dir():
        found.update({p.stem: p for p in sorted(folder.glob("*.toml"))})
    return found


def load_profile(name: str, user_dir: Path | None = None) -> TuneProfile:
    """A profile by name (shipped or the user's) or by the path of a TOML file."""
    path = Path(name)
    if name.endswith(".toml") or path.exists():
        if not path.is_file():
            what = "a folder, not a profile file" if path.is_dir() else "no such file"
            raise ConfigError(f"profile {name}: {what}")
        return parse_profile(path.stem, _read(path), str(path))
    files = available(user_dir)
    if name not in files:
        raise ConfigError(f"no profile named {name!r}; one of: auto, {', '.join(files)}")
    return parse_profile(name, _read(files[name]), str(files[name]))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"profile {path}: cannot be read: {exc}") from None
