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

import json
import os
from pathlib import Path
from typing import Any

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


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`: the file 0600; a folder we create, 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path
