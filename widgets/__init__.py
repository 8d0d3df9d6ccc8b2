"""Textual widgets of the tui-perf dashboard (installed as tui_perf.widgets)."""
