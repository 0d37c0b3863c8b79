"""Where read-model checkpoints live: one SQLite file beside the read models, or one
PostgreSQL schema beside the read-model schema — never the live read models themselves.

A checkpoint of a model at position C is a copy of each of the model's tables, named
`<table>__c<C>`, and a row in `read_model_checkpoints` (model, position, recorded time,
created time, fingerprint of the projection's DDL, how many ledger rows it added).
Ledger tables (append-only, keyed by position: `Projection.ledgers`, such as the movement
ledger) are kept once per model under their own name, with rows up to the newest
checkpoint; the checkpoint at C reads the rows at or before C. So the disk taken grows with
the log, not with the log times the number of checkpoints.

The stores themselves: `checkpoint_files.py` (SQLite), `checkpoint_schemas.py` (PostgreSQL).

Seeding a scratch store copies the other tables (small: one row per SKU × warehouse) and
sets the tracking rows to C; the scratch's own ledger tables receive only the events after
C, and once the replay is done a view joins them to the shared rows cut at C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from projections.base import Projection
from projections.store import Cursor, ViewStore

REGISTRY_DDL = (
    "CREATE TABLE IF NOT EXISTS {registry} (model TEXT NOT NULL, position {bigint} NOT NULL,"
    " recorded_at TEXT, created_at TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " ledger_since {bigint} NOT NULL, ledger_rows {bigint} NOT NULL,"
    " PRIMARY KEY (model, position))"
)
REGISTRY = "read_model_checkpoints"
AFTER = "__after"  # the scratch's own ledger rows (after C), once the view takes the name
COLUMNS = "model, position, recorded_at, created_at, fingerprint, ledger_since, ledger_rows"


class CheckpointUnusable(Exception):
    """A checkpoint (or the whole store) that cannot be read back as it was saved."""


@dataclass(frozen=True)
class CheckpointInfo:
    model: str
    position: int
    recorded_at: str | None  # recorded time of the last event at or before `position`
    created_at: str
    fingerprint: str
    ledger_since: int  # the previous checkpoint: this one's own ledger rows come after it
    ledger_rows: int  # how many (checked on every use: a cost of the interval, not the log)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def copy_name(table: str, position: int) -> str:
    return f"{table}__c{position}"


def mutable_tables(projections: Sequence[Projection]) -> list[str]:
    return [t for p in projections for t in p.tables if t not in p.ledgers]


def ledger_tables(projections: Sequence[Projection]) -> list[tuple[Projection, str]]:
    return [(p, t) for p in projections for t in p.ledgers]


class CheckpointStore:
    """Save, list, seed from and delete read-model checkpoints (one dialect per subclass)."""

    where = ""

    def list(self) -> list[CheckpointInfo]:
        raise NotImplementedError

    def save(
        self, info: CheckpointInfo, source: ViewStore, projections: Sequence[Projection], since: int
    ) -> bool:
        """Copy `source` (a scratch replayed to `info.position`) as a checkpoint; the
        ledger rows after `since` (the previous checkpoint) are appended. False if one
        exists already at that position."""
        raise NotImplementedError

    def seed(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> None:
        """Fill a freshly set-up scratch store with the checkpoint, or raise
        CheckpointUnusable leaving it as it was (one transaction)."""
        raise NotImplementedError

    def reader(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> ViewStore:
        """After the replay: a store over `target` whose ledger tables read as a whole."""
        raise NotImplementedError

    def delete(self, model: str | None = None) -> int:
        raise NotImplementedError


def write_checkpoint(
    cur: Cursor, info: CheckpointInfo, projections: Sequence[Projection], since: int,
    source: str, target: str,
) -> bool:  # fmt: skip
    """The dialect-free part of a save; `source`/`target` prefix table names."""
    cur.ddl(REGISTRY_DDL.replace("{registry}", target + REGISTRY))
    found = cur.execute(
        f"SELECT 1 FROM {target}{REGISTRY} WHERE model = ? AND position = ?",
        (info.model, info.position),
    ).fetchone()
    if found:
        return False
    for table in mutable_tables(projections):
        name = copy_name(table, info.position)
        cur.execute(f"DROP TABLE IF EXISTS {target}{name}")  # left by an interrupted save
        cur.execute(f"CREATE TABLE {target}{name} AS SELECT * FROM {source}{table}")
    rows = 0
    for projection, table in ledger_tables(projections):
        cur.ddl(projection.tables[table].replace("{t}", target + table))
        cur.execute(f"DELETE FROM {target}{table} WHERE position > ?", (since,))
        cur.execute(
            f"INSERT INTO {target}{table} SELECT * FROM {source}{table}"
            " WHERE position > ? AND position <= ?",
            (since, info.position),
        )
        rows += ledger_count(cur, target + table, since, info.position)
    cur.execute(
        f"INSERT INTO {target}{REGISTRY} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (info.model, info.position, info.recorded_at, info.created_at, info.fingerprint,
         since, rows),
    )  # fmt: skip
    return True


def read_checkpoint(
    cur: Cursor, info: CheckpointInfo, projections: Sequence[Projection], source: str
) -> None:
    for table in mutable_tables(projections):
        cur.execute(f"INSERT INTO {table} SELECT * FROM {source}{copy_name(table, info.position)}")
    since, position = info.ledger_since, info.position
    rows = sum(
        ledger_count(cur, source + t, since, position) for _, t in ledger_tables(projections)
    )
    if rows != info.ledger_rows:
        raise CheckpointUnusable(
            f"its ledger rows after {since} are {rows}, not the {info.ledger_rows} it was saved"
            " with"
        )
    for projection in projections:
        cur.execute(
            "UPDATE projection_tracking SET position = ? WHERE name = ?",
            (info.position, projection.name),
        )


def ledger_count(cur: Cursor, table: str, since: int, position: int) -> int:
    found = cur.execute(
        f"SELECT count(*) FROM {table} WHERE position > ? AND position <= ?", (since, position)
    )
    row = found.fetchone()
    return int(row[0]) if row else 0


def registry_rows(cur: Cursor, registry: str) -> list[CheckpointInfo]:
    rows = cur.execute(f"SELECT {COLUMNS} FROM {registry} ORDER BY model, position").fetchall()
    return [CheckpointInfo(m, int(p), r, str(c), f, int(s), int(n)) for m, p, r, c, f, s, n in rows]


def cut_views(projections: Sequence[Projection], info: CheckpointInfo, shared: str) -> list[str]:
    return [
        f"VIEW {t} AS SELECT * FROM {shared}{t} WHERE position <= {int(info.position)}"
        f" UNION ALL SELECT * FROM {t}{AFTER}"
        for _, t in ledger_tables(projections)
    ]


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def delete_model(cur: Cursor, model: str, prefix: str) -> int:
    from replay.asof import projections_for

    projections = projections_for(model)
    infos = [i for i in registry_rows(cur, prefix + REGISTRY) if i.model == model]
    for info in infos:
        for table in mutable_tables(projections):
            cur.execute(f"DROP TABLE IF EXISTS {prefix}{copy_name(table, info.position)}")
    # PostgreSQL: with the views over it in scratch stores of answers being replayed now.
    cascade = " CASCADE" if cur.dialect == "postgres" else ""
    for _, table in ledger_tables(projections):
        cur.execute(f"DROP TABLE IF EXISTS {prefix}{table}{cascade}")
    cur.execute(f"DELETE FROM {prefix}{REGISTRY} WHERE model = ?", (model,))
    return len(infos)
