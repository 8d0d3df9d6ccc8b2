"""TCSS styles of the dashboard (installed as tui_perf.styles)."""
