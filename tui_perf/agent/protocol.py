"""The agent's wire protocol: newline-delimited JSON objects, one per line.

    agent  -> client  {"type": "hello", "version": 1, "auth": bool}       (nothing else yet)
    client -> agent   {"type": "hello", "version": 1, "token": "..."}      (token: TCP only)
    agent  -> client  {"type": "welcome", "pid": ..., "argv": [...]}       (after the token)
    agent  -> client  {"type": "snapshot", "data": Snapshot.to_dict()}     (latest wins)
    client -> agent   {"type": "command", "id": 7, "name": "gc_collect", "args": {}}
    agent  -> client  {"type": "reply", "id": 7, "ok": true, "result": {...}}
                      {"type": "reply", "id": 7, "ok": false, "error": "..."}
    agent  -> client  {"type": "error", "error": "..."}  then the connection closes

A frame longer than `MAX_FRAME` bytes, malformed JSON, an unknown type or command, or
wrong types get an error reply (or, before the handshake, a closed connection): never an
exception in the host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tui_perf.model.errors import TuiPerfError

VERSION = 1
MAX_FRAME = 64 * 1024  # client frames: commands are small
MAX_SNAPSHOT_FRAME = 8 * 1024 * 1024  # agent frames, as the client accepts them

#: command names are looked up in the engine's command registry; this only bounds them
MAX_COMMAND_NAME = 64


class ProtocolError(TuiPerfError):
    """A frame that breaks the protocol; the message goes back to the peer."""


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    name: str
    args: dict[str, Any]


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes, limit: int = MAX_FRAME) -> dict[str, Any]:
    """One frame (without its newline) to a dict; raises `ProtocolError`."""
    if len(line) > limit:
        raise ProtocolError(f"frame of {len(line)} bytes is over the {limit}-byte limit")
    try:
        value = json.loads(line)
    except RecursionError:
        raise ProtocolError("frame nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("frame is not a JSON object")
    return value


def parse_hello(message: dict[str, Any]) -> str | None:
    """The client's token (None when it sent none); raises on a bad hello."""
    if message.get("type") != "hello":
        raise ProtocolError("expected a hello first")
    version = message.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("hello.version must be an integer")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version} is not spoken here ({VERSION} is)")
    token = message.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("hello.token must be a string")
    return token


def parse_command(message: dict[str, Any]) -> Command:
    if message.get("type") != "command":
        raise ProtocolError(f"unknown message type {str(message.get('type'))[:40]!r}")
    ident = message.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ProtocolError("command.id must be an integer")
    name = message.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_COMMAND_NAME:
        raise ProtocolError(f"command.name must be a short string, got {str(name)[:40]!r}")
    args = message.get("args", {})
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise ProtocolError("command.args must be an object")
    return Command(ident, name, args)
