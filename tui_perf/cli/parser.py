"""The argument parser every `tui-perf` command shares: a bad option is one line and exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line that says where to look, then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_history_option(parser: argparse.ArgumentParser, help_text: str = "history file") -> None:
    """A command's `--history FILE`. Given before the command (`tui-perf --history F
    history`) it still counts: a subcommand's own default would overwrite the top-level
    value, so it has none (SUPPRESS) and the top-level None stands when neither is given."""
    parser.add_argument(
        "--history", type=Path, metavar="FILE", help=help_text, default=argparse.SUPPRESS
    )
