"""The generation record of `caches.generations` in a SQLite tier: the `<table>_gen` table.

Rows (scope, rule, gen): "i" the incarnation, "e" the epoch, then the rules. `SQLiteTier`
makes the table with its schema and takes these methods from here.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiosqlite


class SQLiteGenerations:
    """Reads and bumps a scope's record; the tier supplies `table`, `_conn`, `_aconn`."""

    table: str

    def _conn(self) -> sqlite3.Connection:
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
