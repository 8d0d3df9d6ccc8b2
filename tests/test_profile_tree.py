"""The call tree and its exports: recursion, bounded memory, files other tools load."""

from __future__ import annotations

import json
import stat
import tracemalloc
from pathlib import Path

from tui_perf.profile.export import SPEEDSCOPE_SCHEMA, folded, speedscope, write_private
from tui_perf.profile.frames import FrameKey
from tui_perf.profile.tree import OTHER_STACKS, TRUNCATED, CallTree, TreeLimits

MAIN = FrameKey("main", "/app/main.py", 1)
WALK = FrameKey("walk", "/app/tree.py", 10)
LEAF = FrameKey("visit", "/app/tree.py", 20)
PARSE = FrameKey("parse", "/app/io.py", 5)


def test_a_recursive_function_is_counted_once_per_sample() -> None:
    tree = CallTree()
    for _ in range(10):
        tree.add("MainThread", [MAIN, *[WALK] * 40, LEAF], 0.01)
    tree.add("MainThread", [MAIN, PARSE], 0.01)
    rows = {r.key: r for r in tree.rows()}
    assert rows[WALK].total_samples == 10
    assert abs(rows[WALK].total_s - 0.10) < 1e-9
    assert abs(rows[MAIN].total_s - tree.active_s) < 1e-9  # the root: 100%, not more
    assert all(r.total_s <= tree.active_s + 1e-9 for r in rows.values())
    assert abs(rows[LEAF].own_s - 0.10) < 1e-9 and rows[WALK].own_s == 0
    assert abs(sum(r.own_s for r in rows.values()) - tree.active_s) < 1e-9


def test_per_thread_tables_keep_threads_apart() -> None:
    tree = CallTree()
    tree.add("MainThread", [MAIN, PARSE], 0.03)
    tree.add("worker", [MAIN, LEAF], 0.01)
    tree.add_idle("sleeper", 0.01)
    assert [r.key for r in tree.rows("worker")] == [LEAF, MAIN]
    assert tree.rows("MainThread")[0].own_s == 0.03
    assert tree.threads["sleeper"] == [0.0, 0.01]
    assert tree.idle_samples == 1 and tree.samples == 2


def _traced_growth(tree: CallTree, stacks: int, depth: int, seed: int = 0) -> int:
    """Traced bytes the tree grew by while taking `stacks` distinct stacks `depth` deep."""
    pool = [FrameKey(f"f{i}", f"/src/mod{i % 7}.py", i) for i in range(3000)]
    base = [pool[(i * 37) % len(pool)] for i in range(depth - 2)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(seed * stacks, (seed + 1) * stacks):
            # distinct at the leaf end, which truncation keeps; new functions as well
            frames = [*base, pool[n % 3000], pool[(n // 3000) % 3000]]
            tree.add(f"T{n % 16}", frames, 1e-3)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_memory_stays_under_the_stated_bound_with_10000_distinct_stacks() -> None:
    limits = TreeLimits()
    # Ordinary stacks, and stacks past max_depth. The deep ones stop at 3,000: past the
    # 2,000 stack rows and the 5,000 per-thread function rows, the tables are full and
    # 10,000 grew by 0.15% more (3,993,894 bytes against 3,988,076; the test below holds
    # that growth stops at the caps), for 25 s under tracemalloc instead of 6.
    for depth, stacks in ((20, 10_000), (200, 3_000)):
        tree = CallTree(limits)
        grown = _traced_growth(tree, stacks, depth)
        assert grown < limits.bytes_bound(), (depth, grown, limits.bytes_bound())
        assert len(tree.stacks) <= limits.max_stacks + limits.max_overflow + 16
        assert len(tree.functions) <= limits.max_functions + 1
        assert abs(sum(r.own_s for r in tree.rows()) - tree.active_s) < 1e-6  # none lost


def test_memory_stops_growing_once_the_caps_are_reached() -> None:
    limits = TreeLimits(max_stacks=500, max_overflow=100, max_functions=400)
    tree = CallTree(limits)
    first = _traced_growth(tree, 5_000, 30, seed=0)
    second = _traced_growth(tree, 5_000, 30, seed=1)  # 5,000 more distinct stacks
    # a few new overflow rows at most; uncapped, the second batch would cost as much again
    assert second < first * 0.1 and second / 5_000 < 8, (first, second)
    assert any(path[:2] == ("T0", OTHER_STACKS) for path in tree.stacks)


def test_deep_stacks_keep_their_innermost_frames() -> None:
    tree = CallTree(TreeLimits(max_depth=50))
    frames = [MAIN, *[WALK] * 5000, LEAF]
    tree.add("MainThread", frames, 0.01)
    (path,) = tree.stacks
    assert path[0] == "MainThread" and path[1] == TRUNCATED and path[-1] == LEAF
    assert len(path) == 1 + 50
    assert tree.rows()[0].key == LEAF  # the table still sees the whole stack


# -- exports ------------------------------------------------------------------------------


def _sample_tree() -> CallTree:
    tree = CallTree()
    tree.add("MainThread", [MAIN, WALK, WALK, LEAF], 0.030)
    tree.add("MainThread", [MAIN, PARSE], 0.010)
    tree.add("worker;1", [FrameKey("odd;name", "/x.py", 3)], 0.005)
    return tree


def parse_folded(text: str) -> dict[tuple[str, ...], int]:
    """The folded format as flamegraph.pl reads it: `frame;frame;... COUNT` per line."""
    out: dict[tuple[str, ...], int] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        assert stack and count.isdigit(), line
        out[tuple(stack.split(";"))] = int(count)
    return out


def test_folded_export_parses_back_to_the_tree() -> None:
    stacks = parse_folded(folded(_sample_tree()))
    assert (
        stacks[
            (
                "MainThread",
                "main (/app/main.py:1)",
                "walk (/app/tree.py:10)",
                "walk (/app/tree.py:10)",
                "visit (/app/tree.py:20)",
            )
        ]
        == 30_000
    )  # microseconds
    assert stacks[("MainThread", "main (/app/main.py:1)", "parse (/app/io.py:5)")] == 10_000
    # a `;` inside a name would split a frame in two: it is replaced
    assert ("worker:1", "odd:name (/x.py:3)") in stacks
    assert folded(CallTree()) == ""


#: required fields from speedscope's file-format-schema.json (FileFormat.File,
#: FileFormat.Frame, FileFormat.SampledProfile)
FILE_REQUIRED = {"$schema", "shared", "profiles"}
FRAME_REQUIRED = {"name"}
SAMPLED_REQUIRED = {"type", "name", "unit", "startValue", "endValue", "samples", "weights"}
UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def validate_speedscope(doc: dict[str, object]) -> None:
    assert set(doc) >= FILE_REQUIRED
    assert doc["$schema"] == SPEEDSCOPE_SCHEMA
    shared = doc["shared"]
    assert isinstance(shared, dict) and isinstance(shared["frames"], list)
    frames = shared["frames"]
    for frame in frames:
        assert set(frame) >= FRAME_REQUIRED and isinstance(frame["name"], str)
        assert isinstance(frame.get("line", 0), int)
    profiles = doc["profiles"]
    assert isinstance(profiles, list) and profiles
    for p in profiles:
        assert set(p) >= SAMPLED_REQUIRED and p["type"] == "sampled" and p["unit"] in UNITS
        assert len(p["samples"]) == len(p["weights"])
        assert all(0 <= i < len(frames) for stack in p["samples"] for i in stack)
        assert p["endValue"] - p["startValue"] == sum(p["weights"])
    index = doc.get("activeProfileIndex", 0)
    assert isinstance(index, int) and 0 <= index < len(profiles)


def test_speedscope_export_has_the_schema_fields(tmp_path: Path) -> None:
    path = write_private(
        tmp_path / "p" / "out.speedscope.json", json.dumps(speedscope(_sample_tree()))
    )
    doc = json.loads(path.read_text())
    validate_speedscope(doc)
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert set(by_name) == {"MainThread", "worker;1"}
    names = [f["name"] for f in doc["shared"]["frames"]]
    heavy = by_name["MainThread"]["samples"][by_name["MainThread"]["weights"].index(30_000)]
    assert [names[i] for i in heavy] == ["main", "walk", "walk", "visit"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
