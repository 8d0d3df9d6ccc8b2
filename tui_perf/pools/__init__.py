"""Pools users keep in their code: `ObjectPool` for objects, `ConnectionPool` for aiosqlite.

Owns checkout and return, leak detection, waits and their percentiles, and (for connections)
ping, recycling, rollback on return and reconnection with backoff. It imports the model and
the engine's registry (every pool registers itself there), nothing above.
"""
