"""Caches users keep in their code: `cached` for def and async def, and `MultiLevelCache`.

Owns the decorator, the multi-level cache (a cachetools memory tier in front of an optional
SQLite or Redis tier, with promotion and write-behind), the tiers themselves and the codecs
that turn values into signed bytes. It imports the model and the engine's registry (every
cache registers itself there so the engine can sample and reclaim it), nothing above.
"""
