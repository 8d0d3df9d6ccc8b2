"""What every L2 tier is: SQLite (a file shared by processes) or Redis (a server shared by hosts).

Both store bytes (the codec's output) under string keys, with an optional expiry in wall
time (shared stores outlive a process, so monotonic clocks do not apply) and tags.
Sync callers use the blocking client, async callers the async one; both see the same data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import TierStats

if TYPE_CHECKING:
    pass

#: (key, encoded value, ttl seconds or None, tags)
Item = tuple[str, bytes, float | None, Sequence[str]]


class L2Tier(Protocol):
    level: str
    kind: str

    def get(self, key: str) -> Any: ...
    def set_many(self, items: Iterable[Item]) -> None: ...
    def delete(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def delete_tag(self, tag: str) -> int: ...
    def clear(self) -> int: ...
    # A namespace's generation record (see caches.generations): incarnation "i", epoch "e",
    # the rules newer than `known`'s epoch, or all when `known` is of another incarnation.
    def generations(self, scope: str, known: tuple[int, int]) -> dict[str, int]: ...
    def bump_generations(
        self, scope: str, rules: list[str], known: tuple[int, int]
    ) -> dict[str, int]: ...
    def stats(self) -> TierStats: ...
    def close(self) -> None: ...
    async def aget(self, key: str) -> Any: ...
    async def aset_many(self, items: Iterable[Item]) -> None: ...
    async def aclose(self) -> None: ...
    async def agenerations(self, scope: str, known: tuple[int, int]) -> dict[str, int]: ...


class Counters:
    def __init__(self) -> None:
        self.hits = self.misses = self.sets = self.expirations = 0


def table_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,60}", name):
        raise ConfigError(f"cache table name {name!r}: use letters, digits and _ only")
    return name
