"""The recorded chain: a tracked follower that links every stored event as the log grows.

It runs in the projection runner like every read model (the API's background runner,
`orderledger projections run`, catch-up), in raw mode: pages of stored notifications,
never decoded (only the event store's cipher, if on, is taken off). Each page's links and
the follower's tracking position are written in one transaction, so a crash can neither
skip nor double a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projections.base import PositionedEvent, Projection
from projections.store import Cursor
from replay.chain import GENESIS, chain_links

TABLE = "audit_chain"


class ChainProjection(Projection):
    """`audit_chain(position, hash, digest)`: the chain hash through every stored event."""

    name = "audit_chain"
    raw = True
    tables = {
        TABLE: "CREATE TABLE IF NOT EXISTS {t} (position {bigint} PRIMARY KEY,"
        " hash {bytes} NOT NULL, digest {bytes} NOT NULL)"
    }

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        table = self.t(TABLE)
        previous = head(cur, table).hash
        links = chain_links([notification for _, notification in events], previous)
        cur.insert_rows(table, ("position", "hash", "digest"), links)


@dataclass(frozen=True)
class Head:
    position: int  # 0 while the chain is empty
    hash: bytes  # the genesis hash while the chain is empty


def head(cur: Cursor, table: str = TABLE) -> Head:
    """The last recorded link."""
    row = cur.execute(
        f"SELECT position, hash FROM {table} ORDER BY position DESC LIMIT 1"
    ).fetchone()
    return Head(0, GENESIS) if row is None else Head(int(row[0]), bytes(row[1]))


def recorded_range(cur: Cursor, *, after: int, until: int) -> list[tuple[int, bytes]]:
    """(position, hash) of the recorded links after `after` up to `until`, in order."""
    if until <= after:
        return []
    rows = cur.execute(
        f"SELECT position, hash FROM {TABLE} WHERE position > ? AND position <= ?"
        " ORDER BY position",
        (after, until),
    ).fetchall()
    # Both drivers return BIGINT as int and BLOB/BYTEA as bytes: compared as they come.
    return rows


Columns = tuple[list[int], list[bytes]]  # positions and hashes, in order


def recorded_columns(cur: Cursor, *, after: int, until: int) -> Columns:
    """The positions and the hashes of the recorded links after `after` up to `until`."""
    if until <= after:
        return [], []
    # The driver's own cursor: rows as they come, and on PostgreSQL in binary, so a hash
    # arrives as its 32 bytes rather than as hex text to parse.
    sql = f"SELECT position, hash FROM {TABLE} WHERE position > ? AND position <= ?"
    sql += " ORDER BY position"
    if cur.dialect == "postgres":
        rows = cur.raw.execute(sql.replace("?", "%s"), (after, until), binary=True).fetchall()
    else:
        rows = cur.raw.execute(sql, (after, until)).fetchall()
    return [row[0] for row in rows], [row[1] for row in rows]


def digest_at(cur: Cursor, position: int) -> bytes | None:
    row = cur.execute(f"SELECT digest FROM {TABLE} WHERE position = ?", (position,)).fetchone()
    return None if row is None else bytes(row[0])


def positions_with_digest(cur: Cursor, digest: bytes) -> list[int]:
    """Where an event with this digest was recorded (to tell a move from a change)."""
    rows = cur.execute(
        f"SELECT position FROM {TABLE} WHERE digest = ? ORDER BY position", (digest,)
    ).fetchall()
    return [int(row[0]) for row in rows]
