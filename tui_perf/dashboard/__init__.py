"""The dashboard: the Textual app, the sources it reads and the pure functions that shape views.

Owns `TuiPerfApp`, the `Source` protocol and its implementations (local engine, remote agent,
any pid, scripted), the view functions that turn a `Snapshot` into what a pane draws (pure,
tested without a UI) and the demo workload. The app reads only a `Source`; the panes in
`tui_perf.widgets` read views and the model, never the engine. It may import every layer
below it (model, engine, caches, pools, store, capabilities, agent client).
"""
