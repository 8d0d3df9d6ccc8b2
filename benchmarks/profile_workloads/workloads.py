"""The five workloads of issue #31, each with its truth: the CPU time of each function and
thread, measured with `time.thread_time` around every call in the same run.

A workload is `run(seconds, truth)`: it works for about `seconds` of wall time and adds, per
function name, the thread CPU seconds spent inside it to `truth` (a `Truth`). `ROOTS` names
the functions a workload's threads run under: a sampler's shares are taken over the samples
under them, the truth's over the CPU time inside them, so the launcher and the interpreter's
start count on neither side.

Shares are inclusive (a function's time with its callees'): the truth of `fib` is its
outermost call's time, and a sampler's share of `fib` is its samples with `fib` anywhere on
the stack.
"""

from __future__ import annotations

import json
import queue
import random
import re
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable


class Truth:
    """Function name -> thread CPU seconds inside it; thread-safe for a few threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def timed(self, name: str, fn: Callable[[], object]) -> None:
        t0 = time.thread_time()
        fn()
        spent = time.thread_time() - t0
        with self._lock:
            self.seconds[name] += spent
            self.calls[name] += 1


def _spin(units: int) -> int:
    x = 0
    for i in range(units):
        x += i * i
    return x


# -- 1. single thread, a/b/c in 70/20/5 (the rest: the loop around them) -------------------


def func_a() -> None:
    _spin(70_000)


def func_b() -> None:
    _spin(20_000)


def func_c() -> None:
    _spin(5_000)


def abc_root(seconds: float, truth: Truth) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        truth.timed("func_a", func_a)
        truth.timed("func_b", func_b)
        truth.timed("func_c", func_c)


# -- 2. fib recursion beside a flat loop ---------------------------------------------------


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def flat_loop() -> None:
    _spin(40_000)


def fib_root(seconds: float, truth: Truth) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        truth.timed("fib", lambda: fib(16))
        truth.timed("flat_loop", flat_loop)


# -- 3. time in C calls: sort, zlib, json, re ------------------------------------------------

_RNG = random.Random(31)
_NUMBERS = [_RNG.random() for _ in range(20_000)]
_BLOB = bytes(_RNG.getrandbits(8) for _ in range(20_000)) * 8
_DOC = json.dumps([{"id": i, "name": f"item {i}", "tags": ["x", "y"]} for i in range(1_000)])
_TEXT = " ".join(f"user{i}@example{i % 7}.com said {i}" for i in range(4_000))
_EMAIL = re.compile(r"(\w+)@(\w+)\.com")


def do_sort() -> None:
    sorted(_NUMBERS)


def do_zlib() -> None:
    zlib.compress(_BLOB, 6)


def do_json() -> None:
    json.loads(_DOC)


def do_re() -> None:
    _EMAIL.findall(_TEXT)


def c_calls_root(seconds: float, truth: Truth) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        truth.timed("do_sort", do_sort)
        truth.timed("do_zlib", do_zlib)
        truth.timed("do_json", do_json)
        truth.timed("do_re", do_re)


# -- 4. two workers 90/10, two blocked threads, the main thread joining ---------------------


def heavy_step() -> None:
    _spin(20_000)


def light_step() -> None:
    _spin(15_000)


def heavy_worker(end: float, truth: Truth) -> None:
    while time.monotonic() < end:
        truth.timed("heavy_step", heavy_step)


def light_worker(end: float, truth: Truth) -> None:
    # about a tenth of a core: a short step, then a sleep (the shape of a poller)
    while time.monotonic() < end:
        truth.timed("light_step", light_step)
        time.sleep(0.002)


def threads_root(seconds: float, truth: Truth) -> None:
    end = time.monotonic() + seconds
    stop = threading.Event()
    inbox: queue.Queue[int] = queue.Queue()
    blocked = [
        threading.Thread(target=stop.wait, name="blocked-event", daemon=True),
        threading.Thread(target=inbox.get, name="blocked-queue", daemon=True),
    ]
    workers = [
        threading.Thread(
            target=lambda: truth.timed("heavy_worker", lambda: heavy_worker(end, truth)),
            name="heavy",
        ),
        threading.Thread(
            target=lambda: truth.timed("light_worker", lambda: light_worker(end, truth)),
            name="light",
        ),
    ]
    for t in blocked + workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    inbox.put(0)


# -- 5. a 3 ms burst of JSON and regex work, then a 10 ms sleep -----------------------------

_REQUEST = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(60)]})
_ITEM = re.compile(r'"name": "item (\d+)"')


def parse_request() -> None:
    json.loads(_REQUEST)


def match_request() -> None:
    _ITEM.findall(_REQUEST)


def handle_burst(truth: Truth) -> None:
    t0 = time.thread_time()
    while time.thread_time() - t0 < 0.003:
        truth.timed("parse_request", parse_request)
        truth.timed("match_request", match_request)


def burst_root(seconds: float, truth: Truth) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        truth.timed("handle_burst", lambda: handle_burst(truth))
        time.sleep(0.010)


#: name -> (the workload, the functions whose shares are compared, the root functions)
WORKLOADS: dict[str, tuple[Callable[[float, Truth], None], tuple[str, ...], tuple[str, ...]]] = {
    "abc": (abc_root, ("func_a", "func_b", "func_c"), ("abc_root",)),
    "fib": (fib_root, ("fib", "flat_loop"), ("fib_root",)),
    "c_calls": (c_calls_root, ("do_sort", "do_zlib", "do_json", "do_re"), ("c_calls_root",)),
    "threads": (threads_root, ("heavy_step", "light_step"), ("heavy_worker", "light_worker")),
    "burst": (
        burst_root,
        ("handle_burst", "parse_request", "match_request"),
        ("burst_root",),
    ),
}
