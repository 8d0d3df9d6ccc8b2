"""The generation record of `caches.generations` in a SQLite tier: the `<table>_gen` table.

Rows (scope, rule, gen): "i" the incarnation, "e" the epoch, then the rules. `SQLiteTier`
makes the table with its schema and takes these methods from here.

The rows a bump made stale are collected in the background of later writes: each bump also
queues a sweep (`<table>_sweep`: the tag or key range, and the time of the bump), and every
write batch deletes up to `purge_batch` rows of the oldest sweep that were stored before it
(the rows' `stored` time and the bump's are this host's wall clock: a row stored after the
bump is never swept, and a clock step can only make a sweep delete less, or a fresh row
early: a miss, never an old value). Reads never wait for it: the generation check already
refuses those rows.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite


class SQLiteGenerations:
    """Reads and bumps a scope's record; the tier supplies `table`, `_conn`, `_aconn`."""

    table: str
    purge_batch: int
    _timer: Callable[[], float]
    swept = 0  # stale rows deleted by sweeps

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _read(self, row: tuple[bytes, float | None] | None, key: str) -> Any:
        raise NotImplementedError

    async def _aconn(self) -> aiosqlite.Connection:
        raise NotImplementedError

    def _gen_head(self) -> str:
        return f"SELECT rule, gen FROM {self.table}_gen WHERE scope = ? AND rule IN ('i', 'e')"

    def _gen_check(self) -> str:
        # One row: the incarnation and epoch, as the common case's one read.
        g = f"{self.table}_gen"
        return (
            f"SELECT (SELECT gen FROM {g} WHERE scope = ?1 AND rule = 'i'), "
            f"(SELECT gen FROM {g} WHERE scope = ?1 AND rule = 'e')"
        )

    def _get_checked(self) -> str:
        # The check and the entry in one statement: one read transaction (each statement
        # outside one starts its own, most of a small read's cost) and one snapshot.
        g, tb = f"{self.table}_gen", self.table
        return (
            f"SELECT (SELECT gen FROM {g} WHERE scope = ?1 AND rule = 'i'), "
            f"(SELECT gen FROM {g} WHERE scope = ?1 AND rule = 'e'), "
            f"(SELECT value FROM {tb} WHERE key = ?2), (SELECT expires FROM {tb} WHERE key = ?2)"
        )

    def get_current(
        self, scope: str, known: tuple[int, int], key: str
    ) -> tuple[dict[str, int], Any] | None:
        """`key`'s entry (as `get`) with `scope`'s incarnation and epoch, read together, when
        the record holds nothing newer than `known`; None (the entry not counted) when it
        does or was never made: the caller reads the record in full, then the entry."""
        incarnation, epoch, value, expires = (
            self._conn().execute(self._get_checked(), (scope, key)).fetchone()
        )
        if incarnation != known[0] or epoch is None or epoch > known[1]:
            return None
        row = None if value is None else (value, expires)  # value is NOT NULL: no row
        return {"i": incarnation, "e": epoch}, self._read(row, key)

    def generations(self, scope: str, known: tuple[int, int]) -> dict[str, int]:
        """`scope`'s incarnation ("i"), epoch ("e") and the rules newer than `known`'s epoch
        (all of them when `known` is of another incarnation); made on first use."""
        db = self._conn()
        incarnation, epoch = db.execute(self._gen_check(), (scope,)).fetchone()
        if incarnation == known[0] and epoch is not None and epoch <= known[1]:
            return {"i": incarnation, "e": epoch}  # nothing new: one read, the common case
        db.execute("BEGIN")  # one snapshot for the two reads
        try:
            record = self._record(db, scope, known)
        finally:
            db.execute("COMMIT")
        if record is not None:
            return record
        return self.bump_generations(scope, [], known)  # the first use: make the record

    async def agenerations(self, scope: str, known: tuple[int, int]) -> dict[str, int]:
        """`generations` on the async connection; when something changed, the full read in
        a worker thread (rare: after a bump)."""
        db = await self._aconn()
        async with db.execute(self._gen_head(), (scope,)) as cur:
            head = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        if len(head) == 2 and head["i"] == known[0] and head["e"] <= known[1]:
            return head
        return await asyncio.to_thread(self.generations, scope, known)

    def bump_generations(
        self, scope: str, rules: list[str], known: tuple[int, int]
    ) -> dict[str, int]:
        """Raise `scope`'s epoch by one and set each of `rules` to it, in one transaction;
        a clear ("c") folds the older tag and prefix rules away. Returns as `generations`."""
        g = f"{self.table}_gen"
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                f"INSERT OR IGNORE INTO {g} VALUES (?, 'i', ?), (?, 'e', 0)",
                (scope, secrets.randbits(62) + 1, scope),
            )
            if rules:
                db.execute(f"UPDATE {g} SET gen = gen + 1 WHERE scope = ? AND rule = 'e'", (scope,))
                if "c" in rules:
                    db.execute(
                        f"DELETE FROM {g} WHERE scope = ? AND substr(rule, 1, 1) IN ('t', 'p')",
                        (scope,),
                    )
                db.executemany(
                    f"INSERT INTO {g} SELECT ?, ?, gen FROM {g} WHERE scope = ? AND rule = 'e' "
                    "ON CONFLICT (scope, rule) DO UPDATE SET gen = excluded.gen",
                    [(scope, rule, scope) for rule in rules],
                )
                db.executemany(
                    f"INSERT INTO {self.table}_sweep (kind, arg, before) VALUES (?, ?, ?)",
                    sweeps(scope, rules, self._timer()),
                )
            record = self._record(db, scope, known)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        assert record is not None
        return record

    def _record(
        self, db: sqlite3.Connection, scope: str, known: tuple[int, int]
    ) -> dict[str, int] | None:
        g = f"{self.table}_gen"
        head = dict(db.execute(self._gen_head(), (scope,)))
        if len(head) < 2:
            return None
        since = known[1] if head["i"] == known[0] else -1
        if head["e"] > since:
            head.update(
                db.execute(
                    f"SELECT rule, gen FROM {g} WHERE scope = ? AND gen > ? "
                    "AND rule NOT IN ('i', 'e')",
                    (scope, since),
                )
            )
        return head

    # -- sweeps ------------------------------------------------------------------------

    def _sweep_sql(self, kind: str, arg: str, before: float) -> tuple[str, tuple[Any, ...]]:
        tb, n = self.table, self.purge_batch
        if kind == "range":
            return (
                f"DELETE FROM {tb} WHERE key IN (SELECT key FROM {tb} "
                "WHERE key >= ? AND key < ? AND stored < ? LIMIT ?)",
                (arg, arg + "\U0010ffff", before, n),
            )
        return (
            f"DELETE FROM {tb} WHERE key IN (SELECT t.key FROM {tb}_tags t "
            f"JOIN {tb} c ON c.key = t.key WHERE t.tag = ? AND c.stored < ? LIMIT ?)",
            (arg, before, n),
        )

    def _next_sweep(self) -> str:
        return f"SELECT id, kind, arg, before FROM {self.table}_sweep ORDER BY id LIMIT 1"

    def _sweep(self, db: sqlite3.Connection) -> None:
        """One step of the oldest sweep, in the caller's write transaction."""
        row = db.execute(self._next_sweep()).fetchone()
        if row is not None:
            n = db.execute(*self._sweep_sql(row[1], row[2], row[3])).rowcount
            self._swept(n)
            if n < self.purge_batch:  # done: nothing of it is left
                db.execute(f"DELETE FROM {self.table}_sweep WHERE id = ?", (row[0],))

    async def _asweep(self, db: aiosqlite.Connection) -> None:
        async with db.execute(self._next_sweep()) as cur:
            row = await cur.fetchone()
        if row is not None:
            done = await db.execute(*self._sweep_sql(row[1], row[2], row[3]))
            self._swept(done.rowcount)
            if done.rowcount < self.purge_batch:
                await db.execute(f"DELETE FROM {self.table}_sweep WHERE id = ?", (row[0],))

    def _swept(self, n: int) -> None:
        self.swept += max(n, 0)


def sweeps(scope: str, rules: list[str], now: float) -> list[tuple[str, str, float]]:
    """The sweeps a bump of `rules` queues: a key range for a clear or prefix, a tag."""
    out: list[tuple[str, str, float]] = []
    for rule in rules:
        if rule == "c":
            out.append(("range", scope, now))
        elif rule[:1] == "p":
            out.append(("range", scope + rule[1:], now))
        elif rule[:1] == "t":
            out.append(("tag", scope + rule[1:], now))
    return out
