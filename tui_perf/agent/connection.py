"""One dashboard's connection to the agent: what it has sent, what waits for it.

Owned by the serving loop's thread (reads, writes, closing); the engine's thread offers
snapshots and the command worker posts replies, both through `offer`/`reply` under a lock,
never touching the socket. Everything waiting is bounded: one snapshot slot (latest wins),
16 notable snapshots, 64 replies, and the one frame being written.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from typing import Any

from tui_perf.agent.protocol import MAX_FRAME, VERSION, ProtocolError, encode

# Before authentication: the version and whether a token is needed, nothing more.
_HELLO = {
    auth: encode({"type": "hello", "version": VERSION, "auth": auth}) for auth in (True, False)
}


class Connection:
    """A peer's socket (non-blocking) and its bounded outbound queues."""

    def __init__(self, sock: socket.socket, needs_token: bool, now: float) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.needs_token = needs_token
        self.accepted_at = now  # the hello must complete within hello_timeout of this
        self.ready = False
        self.closed = False
        self.sent = 0
        self.commands_in_flight = 0  # touched on the loop's thread only
        self.stalled_since: float | None = None  # a send could not take everything since then
        self._inbox = b""
        self._out = _HELLO[needs_token]
        self._lock = threading.Lock()
        self._slot: bytes | None = None  # the newest snapshot frame not yet sent
        self._slot_notable = False  # it carries events or cleanups: must not be overwritten
        self._notable: deque[bytes] = deque(maxlen=16)  # such frames a newer one displaced
        self._replies: deque[bytes] = deque(maxlen=64)

    @property
    def pending(self) -> int:
        """Frames waiting for this client (bounded: a slot and short queues)."""
        with self._lock:
            return (self._slot is not None) + len(self._notable) + len(self._replies)

    @property
    def wants_write(self) -> bool:
        return bool(self._out) or self.pending > 0

    def offer(self, frame: bytes, notable: bool = False) -> None:
        """A new snapshot: replaces one not yet sent, unless that one was `notable` (it
        carries events or cleanup reports), which is kept to be sent first. Never blocks."""
        if self.ready and not self.closed:
            with self._lock:
                if self._slot is not None and self._slot_notable:
                    self._notable.append(self._slot)
                self._slot, self._slot_notable = frame, notable

    def reply(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._replies.append(encode(message))

    def next_frame(self) -> bytes | None:
        """Replies first (a person waits on them), then notable frames (older than the
        slot's, so in order), then the slot."""
        with self._lock:
            if self._replies:
                return self._replies.popleft()
            if self._notable:
                return self._notable.popleft()
            frame, self._slot = self._slot, None
            return frame

    def flush(self, now: float) -> bool:
        """Write what the socket takes without blocking; True while something is left."""
        while True:
            if not self._out:
                frame = self.next_frame()
                if frame is None:
                    self.stalled_since = None
                    return False
                self._out = frame
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent:
                self.stalled_since = None  # progress: a slow reader is not a stuck one
                if sent == len(self._out):
                    self.sent += 1
                self._out = self._out[sent:]
            if self._out:
                if self.stalled_since is None:
                    self.stalled_since = now
                return True

    def read_lines(self) -> list[bytes] | None:
        """The complete lines the socket has (blank ones dropped); None at end of stream.
        Raises `ProtocolError` when a line grows past `MAX_FRAME`."""
        try:
            chunk = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        if not chunk:
            return None
        self._inbox += chunk
        lines: list[bytes] = []
        while b"\n" in self._inbox:
            line, self._inbox = self._inbox.split(b"\n", 1)
            if line.strip():
                lines.append(line)
        if len(self._inbox) > MAX_FRAME:
            raise ProtocolError(f"frame over the {MAX_FRAME}-byte limit")
        return lines

    def fail(self, error: str) -> None:
        """Say why in one frame if the socket takes it now, then close."""
        with contextlib.suppress(OSError):
            self.sock.send(self._out + encode({"type": "error", "error": error}))
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):  # only the loop's thread uses it: close suffices
            self.sock.close()
