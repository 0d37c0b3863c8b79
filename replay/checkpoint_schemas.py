"""Read-model checkpoints in one PostgreSQL schema beside the read models
(`<views schema>_checkpoints`); see `checkpoint_store.py` for what a checkpoint holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from projections.base import Projection
from projections.store import Cursor, PostgresViewStore, ViewStore
from replay.checkpoint_store import (
    AFTER,
    REGISTRY,
    CheckpointInfo,
    CheckpointStore,
    CheckpointUnusable,
    cut_views,
    delete_model,
    first_line,
    ledger_tables,
    read_checkpoint,
    registry_rows,
    write_checkpoint,
)


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
            return registry_rows(cur, f'"{self.schema}".{REGISTRY}') if self._exists(cur) else []

    def save(
        self, info: CheckpointInfo, source: ViewStore, projections: Sequence[Projection], since: int
    ) -> bool:
        assert isinstance(source, PostgresViewStore)
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.schema,))
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            saved = write_checkpoint(
                cur, info, projections, since, f'"{source.schema}".', self._prefix
            )
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
                read_checkpoint(cur, info, projections, self._prefix)
        except psycopg.Error as error:
            raise CheckpointUnusable(first_line(error)) from None

    def reader(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> ViewStore:
        with target.transaction() as cur:
            for _, table in ledger_tables(projections):
                cur.execute(f"ALTER TABLE {table} RENAME TO {table}{AFTER}")
            for view in cut_views(projections, info, self._prefix):
                cur.execute(f"CREATE {view}")
        return target

    def delete(self, model: str | None = None) -> int:
        with self._transaction() as cur:
            if not self._exists(cur):
                return 0
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.schema,))
            if model is None:
                count = len(registry_rows(cur, self._prefix + REGISTRY))
                cur.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
                return count
            return delete_model(cur, model, self._prefix)
