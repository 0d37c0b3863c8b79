"""Fresh, isolated stores for one benchmark run: temp SQLite files or unique PostgreSQL schemas.

Every scenario gets its own event store (and read-model store), so no figure is measured
against tables another scenario filled; everything is removed when the run ends.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

import psycopg

from api.settings import Settings
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore

LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
POOL_SIZE = 8


class StoreFactory:
    """Hands out isolated Settings on one kind of store and removes them all on close."""

    def __init__(self, kind: str, postgres_url: str) -> None:
        if kind not in LABELS:
            raise ValueError(f"unknown store {kind!r}: choose from {', '.join(LABELS)}")
        self.kind = kind
        self.postgres_url = postgres_url
        self.run_tag = uuid.uuid4().hex[:8]
        self._root = Path(tempfile.mkdtemp(prefix=f"orderledger-bench-{kind}-"))
        self._schemas: list[str] = []
        self._views = itertools.count(1)

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    def settings(self, purpose: str) -> Settings:
        """Settings whose event store and read models nobody else uses."""
        if self.kind == "postgres":
            prefix = self._schema_prefix(purpose)
            made = Settings(
                database_url=self.postgres_url,
                events_schema=f"{prefix}_events",
                views_schema=f"{prefix}_views",
                postgres_pool_size=POOL_SIZE,
            )
            # The read-model checkpoints' schema too (`api.runtime.checkpoint_store`).
            self._schemas += [made.events_schema, made.views_schema, f"{prefix}_views_checkpoints"]
            return made
        return Settings(database_url=f"sqlite:///{self._root / purpose}.db")

    def view_store(self, settings: Settings, purpose: str) -> ViewStore:
        """A new, empty read-model store next to `settings`' own."""
        purpose = f"{purpose}{next(self._views)}"
        if self.kind == "postgres":
            schema = f"{self._schema_prefix(purpose)}_views"
            self._schemas.append(schema)
            return PostgresViewStore(settings.postgres_conninfo(), schema, POOL_SIZE)
        return SQLiteViewStore(str(self._root / f"{purpose}-views.db"))

    def describe(self) -> str:
        """The server or library version, for the results page."""
        if self.kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        with psycopg.connect(self._conninfo()) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"

    def close(self) -> None:
        if self._schemas:
            with psycopg.connect(self._conninfo(), autocommit=True) as connection:
                for schema in self._schemas:
                    connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self._schemas.clear()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> StoreFactory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _schema_prefix(self, purpose: str) -> str:
        return f"bench_{self.run_tag}_{purpose}"

    def _conninfo(self) -> str:
        return Settings(database_url=self.postgres_url).postgres_conninfo()


def postgres_problem(postgres_url: str) -> str | None:
    """None when PostgreSQL answers at `postgres_url`, else why not."""
    conninfo = Settings(database_url=postgres_url).postgres_conninfo()
    try:
        with psycopg.connect(conninfo, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL not reachable at {postgres_url}: {error}".splitlines()[0]
