"""The pure view functions: what a pane shows, worked out from snapshots with no UI.

One module per pane: `memory.py`, `gc.py`, `caches.py`, `pools.py`, `bench.py`,
`events.py`, `overview.py`, `profile.py` shape a `Snapshot` (or the bounded `History` of
them, in `history.py` with the `Series` a chart draws) into the frozen rows and series the
pane draws; `columns.py` says which columns fit a width; `advice.py` does it for the Advice
pane (findings, curves, the tuner's trials), `replay.py` for the replay timeline and
`fleet.py` for `tui-perf top`'s rows and sorts. These modules sit in the dashboard layer
but below its Textual code: they import the model (and `advice.report` for a finding's
text), never textual, the engine or the dashboard, so both `tui_perf.dashboard` and the
panes in `tui_perf.widgets` read them and the two packages do not import each other.
"""
