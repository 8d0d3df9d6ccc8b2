"""What a cache tag may be, checked before anything is stored.

A tag is a `str` without control characters: L2 entries carry their tags joined by `\\x1f`
(`multilevel.pack_entry`), so a tag holding one would come back as two on read and its
invalidation would miss it; the other control characters are refused with it, as nobody
means them. Both `set` (tags given) and `invalidate_tag` check here, so the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tui_perf.model.errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_tag(tag: object) -> str:
    """`tag` if it is a str without control characters; else a one-line `ConfigError`."""
    if not isinstance(tag, str):
        raise ConfigError(
            f"a cache tag must be a str, not {type(tag).__name__} ({tag!r:.40}): "
            f"pass str(tag) or an f-string"
        )
    if _CONTROL.search(tag):
        raise ConfigError(
            f"a cache tag must not hold control characters such as \\x1f: {tag!r:.60}; "
            f"use printable separators like ':'"
        )
    return tag


def check_tags(tags: Iterable[object]) -> tuple[str, ...]:
    """`tags` as a tuple, each checked by `check_tag`; a lone str is refused (it would be
    taken as its characters)."""
    if isinstance(tags, str | bytes):
        raise ConfigError(
            f"tags must be a list or tuple of str, not one {type(tags).__name__}: "
            f"write tags=({tags!r:.40},)"
        )
    return tuple(check_tag(tag) for tag in tags)
