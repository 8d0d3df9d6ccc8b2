"""Exports of a `CallTree`: collapsed stacks and speedscope JSON.

- Folded ("collapsed") stacks: one line per distinct stack, `thread;frame;frame N`, N an
  integer. What flamegraph.pl, inferno and speedscope read. N is microseconds of CPU time
  (sample counts would weigh a sample at 10 Hz like one at 100 Hz after the rate adapts).
- speedscope's own format (https://www.speedscope.app/file-format-schema.json): one
  "sampled" profile per thread, frames shared, weights in microseconds.

Frames are named `function (file:line)`, as py-spy names them; `;` in a name (it separates
frames) becomes `:`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any

from tui_perf.model.paths import private_dir
from tui_perf.profile.frames import FrameKey
from tui_perf.profile.tree import CallTree

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
FORMATS = ("folded", "speedscope")
SUFFIX = {"folded": ".folded.txt", "speedscope": ".speedscope.json"}


def _name(frame: object) -> str:
    if isinstance(frame, FrameKey):
        text = frame.label() if frame.file else frame.function
    else:
        text = str(frame)
    return text.replace(";", ":").replace("\n", " ")


def _micros(seconds: float) -> int:
    return max(1, round(seconds * 1e6))


def folded(tree: CallTree) -> str:
    """The folded text, heaviest stacks first; empty when nothing was sampled."""
    lines = []
    for path, (weight, _) in sorted(tree.stacks.items(), key=lambda kv: -kv[1][0]):
        lines.append(";".join(_name(f) for f in path) + f" {_micros(weight)}")
    return "\n".join(lines) + ("\n" if lines else "")


def speedscope(tree: CallTree, name: str = "tui-perf profile") -> dict[str, Any]:
    """A speedscope document: one sampled profile per thread."""
    frames: list[dict[str, Any]] = []
    index: dict[object, int] = {}

    def frame_index(frame: object) -> int:
        i = index.get(frame)
        if i is None:
            i = index[frame] = len(frames)
            entry: dict[str, Any] = {"name": _name(frame)}
            if isinstance(frame, FrameKey) and frame.file:
                entry = {"name": frame.function, "file": frame.file, "line": frame.line}
            frames.append(entry)
        return i

    by_thread: dict[str, tuple[list[list[int]], list[int]]] = {}
    for path, (weight, _) in tree.stacks.items():
        thread = str(path[0])
        samples, weights = by_thread.setdefault(thread, ([], []))
        samples.append([frame_index(f) for f in path[1:]])
        weights.append(_micros(weight))
    profiles = [
        {
            "type": "sampled",
            "name": thread,
            "unit": "microseconds",
            "startValue": 0,
            "endValue": sum(weights),
            "samples": samples,
            "weights": weights,
        }
        for thread, (samples, weights) in sorted(by_thread.items())
    ]
    from tui_perf import __version__

    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": name,
        "activeProfileIndex": 0,
        "exporter": f"tui-perf {__version__}",
    }


def render(tree: CallTree, fmt: str, name: str = "tui-perf profile") -> str:
    if fmt == "folded":
        return folded(tree)
    return json.dumps(speedscope(tree, name), separators=(",", ":"))


def write_confined(folder: Path, stem: str, suffix: str, text: str) -> Path:
    """Write `text` as a new file in `folder`, named `stem` + `suffix` (or `stem-N` + `suffix`
    when taken); return its path. For files written on a peer's request: the folder is made
    0700 (tightened to it if found wider) and is never a link; the file is created 0600 and
    exclusively, never through a link, so nothing that exists is overwritten. Raises
    `OSError` (ELOOP for a link in place of the folder)."""
    private_dir(folder.parent)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.fstat(dfd).st_mode & 0o077:
            os.fchmod(dfd, 0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for n in range(_MAX_NAMES):
            name = f"{stem}-{n}{suffix}" if n else f"{stem}{suffix}"
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dfd)
            except FileExistsError:
                continue  # taken (or a planted link): the next name
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            return folder / name
        raise FileExistsError(errno.EEXIST, f"{_MAX_NAMES} names taken", str(folder / stem))
    finally:
        os.close(dfd)


#: names `write_confined` tries before giving up (exports of one pid in one second)
_MAX_NAMES = 100


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`: the file 0600; a folder we create, 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path
