"""The history store: samples, events, snapshots and benchmark runs in one SQLite file.

Owns `HistoryStore` (aiosqlite through a `ConnectionPool`, WAL, batched writes, migrations,
retention that folds old samples into buckets). It imports the model, the engine and the
pools, nothing above; the dashboard, the agent and the CLI read and write through it.
"""
