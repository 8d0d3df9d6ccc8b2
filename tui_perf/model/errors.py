"""The error hierarchy: every error tui-perf raises on bad input is a `TuiPerfError`.

Each message says what is wrong in words a person can act on; the CLI prints it on one
line and exits 2.
"""

from __future__ import annotations


class TuiPerfError(Exception):
    """Base class of every error tui-perf raises on purpose."""


class SnapshotFormatError(TuiPerfError, ValueError):
    """A snapshot dict is malformed or from a newer format version."""


class HistoryFileError(TuiPerfError):
    """The history database cannot be opened, is not a database, or is corrupt."""


class ProcessAccessError(TuiPerfError):
    """A process does not exist or may not be read."""


class ConfigError(TuiPerfError, ValueError):
    """A configuration value is out of range or of the wrong kind."""
