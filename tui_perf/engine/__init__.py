"""The engine: measures one process and acts on it, in-process, with no UI.

Owns `Engine` (the tick that makes a `Snapshot`, the thread that ticks, and dispatch of
commands by name), the sampler and its probes (`/proc`, psutil, cgroups), the weak registry
of caches and pools, the memory guard with its tiers and cleanup ladder, and the GC
controller. It imports only the model. It knows no capability by name: benchmarks,
profiling, advice and tuning register their commands and snapshot sections into
`tui_perf.engine.commands`, and the engine dispatches by name.
"""
