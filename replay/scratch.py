"""Scratch read-model stores: where a replay writes, thrown away afterwards.

A scratch store has the live store's dialect — a temporary SQLite file next to nothing, or
a temporary schema in the ledger's PostgreSQL database — so the query functions that read
the live read models return the same types and the same exact sums from a replay. (A
SQLite scratch for a PostgreSQL ledger would answer the same figures, but as text and
timestamps with other offsets; comparing a replay row for row with the live model, which is
what an auditor does, needs the same store.)
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore

ScratchFactory = Callable[[], AbstractContextManager[ViewStore]]
SCHEMA_PREFIX = "asof_"


@contextmanager
def sqlite_scratch(directory: Path | None = None) -> Iterator[ViewStore]:
    """A read-model store in a fresh temporary SQLite file, removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix="orderledger-asof-", dir=directory))
    store = SQLiteViewStore(str(folder / "views.db"))
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_scratch(conninfo: str) -> Iterator[ViewStore]:
    """A read-model store in a fresh schema of the ledger's database, dropped on exit."""
    import psycopg

    schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:16]}"
    store = PostgresViewStore(conninfo, schema, pool_size=2)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def scratch_factory(postgres_conninfo: str | None, directory: Path | None = None) -> ScratchFactory:
    """Scratch stores like the live one: PostgreSQL schemas when given a conninfo."""
    if postgres_conninfo is not None:
        conninfo = postgres_conninfo
        return lambda: postgres_scratch(conninfo)
    return lambda: sqlite_scratch(directory)
