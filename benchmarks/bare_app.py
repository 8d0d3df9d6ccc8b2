"""The floor for a Textual dashboard: a bare app with one Static, updated once a second.

The dashboard benchmark's peer for RSS and the first frame: what any Textual app costs before
it shows anything of its own.
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.widgets import Static


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("bare RSS", id="text")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        self.query_one("#text", Static).update(f"bare RSS {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    Bare().run()
