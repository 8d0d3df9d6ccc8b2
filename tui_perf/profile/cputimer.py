"""Sampling driven by the process's CPU time: `setitimer(ITIMER_PROF)` and a SIGPROF handler.

Why not a thread: a sampling thread runs only when it wins the GIL, which a busy thread
gives up at the switch interval (5 ms) or when it blocks. A burst of work shorter than that
is over, the thread asleep again, whenever the sampler looks: every sample sees it idle.
ITIMER_PROF counts the CPU time of the whole process and raises SIGPROF after each
`1/rate` seconds of it, so ticks fall *while* something runs; CPython runs the Python
handler in the main thread at its next bytecode, with the interrupted frame in hand, and
the handler reads the other threads' frames there too (as pyinstrument's and Scalene's
signal modes do). A tick costs nothing while the process sleeps.

The gap, and what covers it: the handler runs only when the main thread runs bytecode. A
main thread blocked in C (`join`, `sleep`, a long C call with the GIL released) leaves the
ticks raised by the other threads' CPU unhandled. A relay thread looks every `_RELAY_IDLE_S`
at how much CPU the process used since the last round; when that passes 1.5 ticks the
handler is overdue, and the relay runs the round itself (on its own thread; weights come from
each thread's CPU clock, so a late round still weighs each thread's stack by the CPU it
used) every tick until the handler runs again, with the GIL's switch interval shortened
meanwhile (`SwitchInterval`) so that it sees threads mid-run rather than at their pauses.

Never replaces a SIGPROF handler or a running ITIMER_PROF the program set up: `install`
refuses with the reason, and the caller samples with a thread instead. `uninstall` puts
back exactly what was there.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

#: how often the relay looks while the handler keeps up (it then costs ~10 wakeups a second)
_RELAY_IDLE_S = 0.1
#: the GIL's switch interval while relaying (CPython's default is 5 ms)
RELAY_SWITCH_S = 0.0002

Round = Callable[["FrameType | None", int | None], None]


def refusal() -> str | None:
    """Why the CPU timer cannot be used here, or None when it can."""
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGPROF"):
        return f"no setitimer on {sys.platform}"
    if threading.current_thread() is not threading.main_thread():
        return "started off the main thread (a signal handler can only be set there)"
    current = signal.getsignal(signal.SIGPROF)
    if current is None:
        return "SIGPROF has a handler set from C"
    if current not in (signal.SIG_DFL, signal.SIG_IGN):
        return "the program has its own SIGPROF handler"
    if signal.getitimer(signal.ITIMER_PROF) != (0.0, 0.0):
        return "the program runs its own ITIMER_PROF"
    return None


class SwitchInterval:
    """The GIL's switch interval, shortened while the relay samples, put back after.

    A relay round runs when the relay gets the GIL: with the default 5 ms a thread whose
    runs are shorter (a poller's 1 ms step) always finishes before it is asked to give the
    GIL up, so the relay only ever sees it asleep and its functions get no sample. At 0.2 ms
    the relay's request lands in the run it interrupts, so what it sees is what runs. The
    cost: more GIL switches between the program's threads, only while the relay samples.
    The program's own value is put back, unless it set one of its own meanwhile.
    """

    def __init__(self) -> None:
        self._before: float | None = None

    def shorten(self) -> None:
        if self._before is None:
            before = sys.getswitchinterval()
            if before > RELAY_SWITCH_S:
                self._before = before
                sys.setswitchinterval(RELAY_SWITCH_S)

    def restore(self) -> None:
        before, self._before = self._before, None
        if before is not None and abs(sys.getswitchinterval() - RELAY_SWITCH_S) < 1e-9:
            sys.setswitchinterval(before)


class CpuTimer:
    """One SIGPROF handler and its relay thread, calling `round` at each tick.

    `round(frame, skip)`: sample every thread once; `frame` is the main thread's
    interrupted frame (None from the relay, which reads it from `sys._current_frames`),
    `skip` the ident of a thread to leave out (the relay's own). `round` must not block:
    the handler may interrupt the main thread while it holds the profiler's lock.
    """

    def __init__(self, round: Round, rate_hz: float, *, process_cpu: Callable[[], float]) -> None:
        self._round = round
        self.rate_hz = rate_hz
        self._process_cpu = process_cpu
        self._previous: object = None
        self._installed = False
        self._stop = threading.Event()
        self._relay: threading.Thread | None = None
        #: rounds run by the handler, and CPU time of the process at the last round
        self.handled = 0
        self.relayed = 0
        self._last_cpu = 0.0
        #: the handler's own CPU time (it runs on the main thread: its thread clock)
        self.cost_s = 0.0
        self._switch = SwitchInterval()
        self._in_tick = False

    def install(self) -> str | None:
        """Set the handler and the timer; the reason when refused (nothing changed then)."""
        why = refusal()
        if why is not None:
            return why
        self._previous = signal.getsignal(signal.SIGPROF)
        signal.signal(signal.SIGPROF, self._on_tick)
        # SA_RESTART: a tick landing in another thread's system call restarts it rather
        # than failing it with EINTR (C code that does not retry would see an error)
        signal.siginterrupt(signal.SIGPROF, False)
        self._installed = True
        self._last_cpu = self._process_cpu()
        self.set_rate(self.rate_hz)
        self._stop.clear()
        self._relay = threading.Thread(target=self._watch, name="tui-perf-profiler", daemon=True)
        self._relay.start()
        return None

    def set_rate(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz
        if self._installed:
            period = 1.0 / rate_hz
            signal.setitimer(signal.ITIMER_PROF, period, period)

    def uninstall(self, timeout: float = 2.0) -> None:
        if not self._installed:
            return
        self._stop.set()
        relay, self._relay = self._relay, None
        if relay is not None and relay is not threading.current_thread():
            relay.join(timeout)
        self._switch.restore()
        try:
            signal.setitimer(signal.ITIMER_PROF, 0.0, 0.0)
            # a tick raised before the timer stopped may still be pending: SIG_IGN
            # discards it, so putting back SIG_DFL (which ends the process) is safe
            signal.signal(signal.SIGPROF, signal.SIG_IGN)
            signal.signal(signal.SIGPROF, self._previous)  # type: ignore[arg-type]
        except ValueError:  # stopped off the main thread: the timer is off, the handler
            pass  # stays ours and does nothing (`_installed` is False)
        self._installed = False

    @property
    def installed(self) -> bool:
        return self._installed

    def _on_tick(self, signum: int, frame: FrameType | None) -> None:
        # CPython runs a handler again inside itself when a tick lands in it: that round
        # would sample the handler; the outer one's CPU deltas cover the time instead
        if not self._installed or self._in_tick:
            return
        self._in_tick = True
        try:
            t0 = time.thread_time()
            with contextlib.suppress(Exception):  # the host's threads come and go mid-round
                self._round(frame, None)
            self.handled += 1
            self._last_cpu = self._process_cpu()
            self.cost_s += time.thread_time() - t0
        finally:
            self._in_tick = False

    def _watch(self) -> None:
        me = threading.get_ident()
        wait = _RELAY_IDLE_S
        seen = self.handled
        relaying = False
        while not self._stop.wait(wait):
            if self.handled != seen:  # the handler keeps up: look again later
                seen, wait, relaying = self.handled, _RELAY_IDLE_S, False
                self._switch.restore()
                continue
            tick = 1.0 / self.rate_hz
            # overdue: 1.5 ticks of CPU with no round to start relaying; once relaying, it
            # looks every half tick (a wake-up waits for the GIL: it is late) and takes a
            # round per tick of CPU, until the handler runs again or the process rests
            used = self._process_cpu() - self._last_cpu
            if used < (0.75 if relaying else 1.5) * tick:
                if not relaying or used <= 0.0:
                    wait, relaying = _RELAY_IDLE_S, False
                    self._switch.restore()
                continue
            relaying = True
            self._switch.shorten()
            t0 = time.thread_time()
            with contextlib.suppress(Exception):
                self._round(None, me)
            self.relayed += 1
            self._last_cpu = self._process_cpu()
            self.cost_s += time.thread_time() - t0
            wait = tick / 2
