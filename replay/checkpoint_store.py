"""Where read-model checkpoints live: one SQLite file beside the read models, or one
PostgreSQL schema beside the read-model schema — never the live read models themselves.

A checkpoint of a model at position C is a copy of each of the model's tables, named
`<table>__c<C>`, and a row in `read_model_checkpoints` (model, position, recorded time,
created time, fingerprint of the projection's DDL, rows of its ledger tables up to C).
Ledger tables (append-only, keyed by position: `Projection.ledgers`, such as the movement
ledger) are kept once per model under their own name, with rows up to the newest
checkpoint; the checkpoint at C reads the rows at or before C. So the disk taken grows with
the log, not with the log times the number of checkpoints.

Seeding a scratch store copies the other tables (small: one row per SKU × warehouse) and
sets the tracking rows to C; the scratch's own ledger tables receive only the events after
C, and once the replay is done a view joins them to the shared rows cut at C.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from projections.base import Projection
from projections.store import Cursor, PostgresViewStore, SQLiteViewStore, ViewStore

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


def _save(
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
        rows += _count(cur, target + table, since, info.position)
    cur.execute(
        f"INSERT INTO {target}{REGISTRY} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (info.model, info.position, info.recorded_at, info.created_at, info.fingerprint,
         since, rows),
    )  # fmt: skip
    return True


def _seed(
    cur: Cursor, info: CheckpointInfo, projections: Sequence[Projection], source: str
) -> None:
    for table in mutable_tables(projections):
        cur.execute(f"INSERT INTO {table} SELECT * FROM {source}{copy_name(table, info.position)}")
    since, position = info.ledger_since, info.position
    rows = sum(_count(cur, source + t, since, position) for _, t in ledger_tables(projections))
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


def _count(cur: Cursor, table: str, since: int, position: int) -> int:
    found = cur.execute(
        f"SELECT count(*) FROM {table} WHERE position > ? AND position <= ?", (since, position)
    )
    row = found.fetchone()
    return int(row[0]) if row else 0


def _infos(cur: Cursor, registry: str) -> list[CheckpointInfo]:
    rows = cur.execute(f"SELECT {COLUMNS} FROM {registry} ORDER BY model, position").fetchall()
    return [CheckpointInfo(m, int(p), r, str(c), f, int(s), int(n)) for m, p, r, c, f, s, n in rows]


def _cut_views(projections: Sequence[Projection], info: CheckpointInfo, shared: str) -> list[str]:
    return [
        f"VIEW {t} AS SELECT * FROM {shared}{t} WHERE position <= {int(info.position)}"
        f" UNION ALL SELECT * FROM {t}{AFTER}"
        for _, t in ledger_tables(projections)
    ]


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- SQLite -----------------------------------------------------------------------------------


class SQLiteCheckpointStore(CheckpointStore):
    """Checkpoints in one SQLite file (e.g. var/orderledger-checkpoints.db)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    @contextmanager
    def _open(self, attach: str | None = None, *, main: str | None = None) -> Iterator[Cursor]:
        """A connection to `main` (default: the checkpoint file) with `attach` as `other`."""
        connection = sqlite3.connect(main or self.path, isolation_level=None, timeout=30)
        try:
            if attach is not None:
                connection.execute("ATTACH DATABASE ? AS other", (attach,))
            yield Cursor(connection.cursor(), "sqlite")
        finally:
            connection.close()

    def list(self) -> list[CheckpointInfo]:
        if not self.path.exists():
            return []
        try:
            with self._open() as cur:
                found = cur.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (REGISTRY,)
                ).fetchone()
                return _infos(cur, REGISTRY) if found else []
        except sqlite3.Error as error:
            raise CheckpointUnusable(f"{self.path} is unreadable: {_first(error)}") from None

    def save(
        self, info: CheckpointInfo, source: ViewStore, projections: Sequence[Projection], since: int
    ) -> bool:
        assert isinstance(source, SQLiteViewStore)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._open(source.path) as cur:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("BEGIN IMMEDIATE")
            try:
                saved = _save(cur, info, projections, since, "other.", "main.")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT" if saved else "ROLLBACK")
            return saved

    def seed(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> None:
        assert isinstance(target, SQLiteViewStore)
        if not self.path.exists():
            raise CheckpointUnusable(f"{self.path} is missing")
        try:
            with self._open(str(self.path), main=target.path) as cur:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    _seed(cur, info, projections, "other.")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
        except sqlite3.Error as error:
            raise CheckpointUnusable(_first(error)) from None

    def reader(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> ViewStore:
        assert isinstance(target, SQLiteViewStore)
        with target.transaction() as cur:
            for _, table in ledger_tables(projections):
                cur.execute(f"ALTER TABLE {table} RENAME TO {table}{AFTER}")
        return _CutSQLiteStore(target.path, str(self.path), _cut_views(projections, info, "ck."))

    def delete(self, model: str | None = None) -> int:
        if not self.path.exists():
            return 0
        if model is None:  # an unreadable file goes too: it is only a cache
            try:
                count = len(self.list())
            except CheckpointUnusable:
                count = 0
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return count
        if not self.list():
            return 0
        with self._open() as cur:
            cur.execute("BEGIN IMMEDIATE")
            count = _delete_model(cur, model, "main.")
            cur.execute("COMMIT")
        return count


class _CutSQLiteStore(SQLiteViewStore):
    """The scratch file with the checkpoint attached and its ledger views on every
    connection (attachments and temporary views belong to one connection)."""

    def __init__(self, path: str, checkpoints: str, views: list[str]) -> None:
        super().__init__(path)
        self.checkpoints = checkpoints
        self.views = views

    def _connection(self) -> sqlite3.Connection:
        fresh = getattr(self._local, "connection", None) is None
        connection = super()._connection()
        if fresh:
            connection.execute("ATTACH DATABASE ? AS ck", (self.checkpoints,))
            for view in self.views:
                connection.execute(f"CREATE TEMP {view}")
        return connection


# -- PostgreSQL -------------------------------------------------------------------------------


class PostgresCheckpointStore(CheckpointStore):
    """Checkpoints in one schema of the ledger's database (`<views schema>_checkpoints`)."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.where = f"schema {schema}"

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        import psycopg

        with psycopg.connect(self.conninfo) as connection, connection.cursor() as raw:
            yield Cursor(raw, "postgres")

    def _exists(self, cur: Cursor) -> bool:
        found = cur.execute("SELECT to_regclass(?)", (f'"{self.schema}".{REGISTRY}',)).fetchone()
        return bool(found and found[0])

    def list(self) -> list[CheckpointInfo]:
        with self._transaction() as cur:
            return _infos(cur, f'"{self.schema}".{REGISTRY}') if self._exists(cur) else []

    def save(
        self, info: CheckpointInfo, source: ViewStore, projections: Sequence[Projection], since: int
    ) -> bool:
        assert isinstance(source, PostgresViewStore)
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.schema,))
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            saved = _save(cur, info, projections, since, f'"{source.schema}".', self._prefix)
            if not saved:
                cur.raw.connection.rollback()
            return saved

    @property
    def _prefix(self) -> str:
        return f'"{self.schema}".'

    def seed(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> None:
        import psycopg

        try:
            with target.transaction() as cur:
                _seed(cur, info, projections, self._prefix)
        except psycopg.Error as error:
            raise CheckpointUnusable(_first(error)) from None

    def reader(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> ViewStore:
        with target.transaction() as cur:
            for _, table in ledger_tables(projections):
                cur.execute(f"ALTER TABLE {table} RENAME TO {table}{AFTER}")
            for view in _cut_views(projections, info, self._prefix):
                cur.execute(f"CREATE {view}")
        return target

    def delete(self, model: str | None = None) -> int:
        with self._transaction() as cur:
            if not self._exists(cur):
                return 0
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.schema,))
            if model is None:
                count = len(_infos(cur, self._prefix + REGISTRY))
                cur.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
                return count
            return _delete_model(cur, model, self._prefix)


def _delete_model(cur: Cursor, model: str, prefix: str) -> int:
    from replay.asof import projections_for

    projections = projections_for(model)
    infos = [i for i in _infos(cur, prefix + REGISTRY) if i.model == model]
    for info in infos:
        for table in mutable_tables(projections):
            cur.execute(f"DROP TABLE IF EXISTS {prefix}{copy_name(table, info.position)}")
    for _, table in ledger_tables(projections):
        cur.execute(f"DROP TABLE IF EXISTS {prefix}{table}")
    cur.execute(f"DELETE FROM {prefix}{REGISTRY} WHERE model = ?", (model,))
    return len(infos)
