"""Read-model checkpoints in one SQLite file beside the read models
(`var/orderledger-checkpoints.db`); see `checkpoint_store.py` for what a checkpoint holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from projections.base import Projection
from projections.store import Cursor, SQLiteViewStore, ViewStore
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
                return registry_rows(cur, REGISTRY) if found else []
        except sqlite3.Error as error:
            raise CheckpointUnusable(f"{self.path} is unreadable: {first_line(error)}") from None

    def save(
        self, info: CheckpointInfo, source: ViewStore, projections: Sequence[Projection], since: int
    ) -> bool:
        assert isinstance(source, SQLiteViewStore)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._open(source.path) as cur:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("BEGIN IMMEDIATE")
            try:
                saved = write_checkpoint(cur, info, projections, since, "other.", "main.")
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
                    read_checkpoint(cur, info, projections, "other.")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
        except sqlite3.Error as error:
            raise CheckpointUnusable(first_line(error)) from None

    def reader(
        self, target: ViewStore, info: CheckpointInfo, projections: Sequence[Projection]
    ) -> ViewStore:
        assert isinstance(target, SQLiteViewStore)
        with target.transaction() as cur:
            for _, table in ledger_tables(projections):
                cur.execute(f"ALTER TABLE {table} RENAME TO {table}{AFTER}")
        return _CutSQLiteStore(target.path, str(self.path), cut_views(projections, info, "ck."))

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
            count = delete_model(cur, model, "main.")
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
