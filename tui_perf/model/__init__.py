"""The model: the one currency every other part speaks, and the small helpers all of them share.

Owns `Snapshot` and the frozen, slotted dataclasses it is made of (with their versioned
`to_dict`/`from_dict`), the error hierarchy under `TuiPerfError`, number formatting, the
nearest-rank percentile, and where files live by default. It imports nothing of ours, so any
part, from the engine to a pane, may import it.
"""
