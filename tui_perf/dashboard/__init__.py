"""The dashboard: the Textual app, the sources it reads and the demo workload.

Owns `TuiPerfApp`, the `Source` protocol and its implementations (local engine, remote agent,
any pid, scripted) and the demo workload; the pure view functions it hands the panes live in
`tui_perf.views`. The app reads only a `Source`; the panes in
`tui_perf.widgets` read views and the model, never the engine. It may import every layer
below it (model, engine, caches, pools, store, capabilities, agent client).
"""
