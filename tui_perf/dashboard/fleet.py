"""The processes `tui-perf top` watches: every agent of this user, and any `HOST:PORT` given.

One `RemoteSource` per agent, each read by its own task on the app's loop; a member keeps
its latest snapshot, a short RSS history for the trend, and a status: connecting, live,
lost (the connection dropped, reconnecting) or gone (the process exited). The agents of
this user are found again every few seconds, so one started later joins the list; a gone
one stays, greyed, until the list is restarted, so a crash is seen rather than vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tui_perf.agent.client import RemoteSource, list_agents
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import Snapshot
from tui_perf.views.fleet import MemberView

#: RSS values kept per member for the trend (at 1 Hz: a minute)
TREND_POINTS = 60
#: how often this user's agents are looked for again
DISCOVER_EVERY_S = 3.0


@dataclass
class Member:
    """One watched agent; changed only on the app's loop."""

    address: str
    source: RemoteSource
    pid: int | None = None
    command: str = ""
    status: str = "connecting"
    reason: str = ""
    changed_at: float = 0.0
    latest: Snapshot | None = None
    rss: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=TREND_POINTS))
    task: asyncio.Task[None] | None = None

    def set_status(self, status: str, reason: str, now: float) -> None:
        if status != self.status or reason != self.reason:
            self.status, self.reason, self.changed_at = status, reason, now


class Fleet:
    """The members and the tasks that read them."""

    def __init__(
        self,
        addresses: tuple[str, ...] = (),
        *,
        token: str | None = None,
        discover: bool = True,
        clock: Callable[[], float] = time.monotonic,
        trends: Mapping[str, deque[tuple[float, int]]] | None = None,
    ) -> None:
        #: RSS histories kept from an earlier list (coming back from a dashboard)
        self.trends = dict(trends or {})
        self.addresses = addresses
        self.token = token
        self.discover = discover
        self.clock = clock
        self.members: dict[str, Member] = {}
        self._discovery: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to what was given and to this user's agents; keep looking for new ones."""
        for address in self.addresses:
            self._add(address, None)
        if self.discover:
            self.find_local()
        self._discovery = asyncio.create_task(self._rediscover())

    def find_local(self) -> int:
        """Add this user's live agents not watched yet; returns how many were added."""
        added = 0
        for pid, path, alive in list_agents():
            if alive and pid != os.getpid() and str(path) not in self.members:
                self._add(str(path), pid)
                added += 1
        return added

    def views(self) -> list[MemberView]:
        now = self.clock()
        return [
            MemberView(
                address=m.address,
                pid=m.pid if m.pid is not None else m.source.peer_pid,
                command=m.command,
                status=m.status,
                reason=m.reason,
                since_s=max(0.0, now - m.changed_at),
                latest=m.latest,
                rss=tuple(v for _, v in m.rss),
                rss_times=tuple(t for t, _ in m.rss),
            )
            for m in self.members.values()
        ]

    async def close(self) -> None:
        if self._discovery is not None:
            self._discovery.cancel()
        for member in self.members.values():
            await member.source.close()
            if member.task is not None:
                member.task.cancel()
        tasks = [m.task for m in self.members.values() if m.task is not None]
        if self._discovery is not None:
            tasks.append(self._discovery)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- inside ------------------------------------------------------------------------

    def _add(self, address: str, pid: int | None) -> None:
        source = RemoteSource(address, token=self.token, backoff=(0.5, 5.0))
        member = Member(address, source, pid=pid, command=_command_of(pid) if pid else address)
        if address in self.trends:
            member.rss = self.trends[address]
        member.changed_at = self.clock()
        source.on_status = lambda text, m=member: self._on_status(m, text)
        self.members[address] = member
        member.task = asyncio.create_task(self._read(member))

    def _on_status(self, member: Member, text: str) -> None:
        now = self.clock()
        if text.startswith("target exited"):
            member.set_status("gone", text, now)
        elif text.startswith("connection lost"):
            # an agent that refused us said why just before closing: keep that
            why = member.reason if member.reason.startswith("agent:") else "reconnecting"
            member.set_status("lost", why, now)
        elif text.startswith("reconnected"):
            member.set_status("live", "", now)
        else:  # the agent's own errors ("agent: bad token"), a bad snapshot: said, kept
            member.reason = text

    async def _read(self, member: Member) -> None:
        try:
            async for snap in member.source.snapshots():
                if member.pid is None:
                    member.pid = snap.pid
                member.latest = snap
                member.rss.append((self.clock(), snap.memory.rss))
                member.set_status("live", "", self.clock())
        except TuiPerfError as exc:
            member.set_status("gone", str(exc), self.clock())
            return
        except Exception as exc:  # a reader that failed must say so, not sit "connecting"
            member.set_status("lost", f"stopped reading: {type(exc).__name__}: {exc}", self.clock())
            return
        if member.status != "gone" and not member.source.closed:
            member.set_status("gone", "the agent stopped", self.clock())

    async def _rediscover(self) -> None:
        while True:
            await asyncio.sleep(DISCOVER_EVERY_S)
            if self.discover:
                self.find_local()
            await self.explain_waiting()

    async def explain_waiting(self) -> None:
        """Say why a member still connecting has not answered: the source retries quietly,
        so one direct attempt names the refusal (a wrong port, no such host)."""
        now = self.clock()
        for member in list(self.members.values()):
            if member.status == "connecting" and now - member.changed_at >= DISCOVER_EVERY_S:
                member.reason = await _why_not(member.address) or member.reason


async def _why_not(address: str, timeout: float = 2.0) -> str:
    """Why `address` does not serve snapshots, or "" when an agent says hello there."""
    from tui_perf.agent.client import parse_address

    try:
        kind, target = parse_address(address)
        if kind == "unix":
            assert isinstance(target, str)
            opened = asyncio.open_unix_connection(target)
        else:
            assert isinstance(target, tuple)
            opened = asyncio.open_connection(*target)
        reader, writer = await asyncio.wait_for(opened, timeout)
    except TimeoutError:
        return f"no answer in {timeout:g} s"
    except OSError as exc:  # asyncio words a refusal "Connect call failed (…)": use errno
        return os.strerror(exc.errno) if exc.errno else str(exc)
    except TuiPerfError as exc:
        return str(exc)
    try:  # something accepts connections there (a proxy may accept any): is it an agent?
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (TimeoutError, OSError, ValueError):
        line = b""
    finally:
        writer.close()
    if not line:
        return f"connected, but no tui-perf agent answered in {timeout:g} s"
    if b'"hello"' not in line:
        return "connected, but not to a tui-perf agent"
    return ""


def _command_of(pid: int) -> str:
    """The process's command line, short; its pid when it cannot be read."""
    import psutil

    try:
        argv = psutil.Process(pid).cmdline()
    except (psutil.Error, OSError):
        return f"pid {pid}"
    if not argv:
        return f"pid {pid}"
    # "python app.py --x" reads better than "/usr/bin/python3.11 /home/…/app.py --x"
    parts = [os.path.basename(argv[0]), *argv[1:]]
    if len(parts) > 1 and parts[0].startswith("python"):
        parts = parts[1:]
        if parts and parts[0] == "-m" and len(parts) > 1:
            parts = parts[1:]
        elif parts and "/" in parts[0]:
            parts[0] = os.path.basename(parts[0])
    return " ".join(parts)
