"""The dashboard's panes, one per file, and the widget memory manager (as tui_perf.widgets).

A pane reads views (`tui_perf.views`) and the model, never the engine: it cannot tell
a local engine from a remote agent. The widget memory manager (`managed`) is the one exception
that reaches lower: it returns the engine's `Freed`, because it is a rung of the cleanup
ladder.
"""
