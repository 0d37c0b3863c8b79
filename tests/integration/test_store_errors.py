"""Store errors named by what they mean for a client: out of space (507), read-only (503) or
unreachable (503) — from real SQLite and PostgreSQL errors, bare or wrapped by the event
store library; any other store error is a defect (None: a 500)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import InternalError, OperationalError, ProgrammingError

from api.settings import Settings
from api.store_errors import FULL, READ_ONLY, UNAVAILABLE, describe
from tests.conftest import POSTGRES_URL, require_postgres


def sqlite_error(tmp_path: Path, *setup: str, write: str) -> sqlite3.Error:
    path = tmp_path / "probe.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    connection = sqlite3.connect(f"file:{path}{'?mode=ro' if 'ro' in setup else ''}", uri=True)
    try:
        for statement in setup:
            if statement != "ro":
                connection.execute(statement)
        for _ in range(100):
            try:
                connection.execute(write)
                connection.commit()
            except sqlite3.Error as error:
                return error
        raise AssertionError(f"{write} never failed")
    finally:
        connection.close()


def wrapped(error: Exception, wrapper: type[Exception]) -> Exception:
    """The error as the event store library raises it: its own class, `from` the driver's."""
    try:
        raise wrapper(str(error)) from error
    except wrapper as outer:
        return outer


def test_a_full_sqlite_database_is_out_of_space(tmp_path: Path) -> None:
    full = sqlite_error(tmp_path, "PRAGMA max_page_count = 3",
                        write="INSERT INTO t VALUES (zeroblob(8000))")  # fmt: skip
    assert describe(full) is FULL
    assert describe(wrapped(full, OperationalError)) is FULL


def test_a_read_only_sqlite_database_is_read_only(tmp_path: Path) -> None:
    refused = sqlite_error(tmp_path, "ro", write="INSERT INTO t VALUES (1)")
    assert describe(refused) is READ_ONLY
    assert describe(wrapped(refused, OperationalError)) is READ_ONLY


def test_a_locked_sqlite_database_is_unavailable_and_a_bad_statement_is_a_defect(
    tmp_path: Path,
) -> None:
    path = tmp_path / "probe.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.rollback()
    with pytest.raises(sqlite3.OperationalError) as bad:
        waiter.execute("INSERT INTO missing VALUES (1)")
    waiter.close()
    holder.close()

    assert describe(wrapped(locked.value, OperationalError)) is UNAVAILABLE
    assert describe(wrapped(bad.value, OperationalError)) is None  # the same class: a defect
    assert describe(wrapped(ValueError("x"), ProgrammingError)) is None
    assert describe(sqlite3.IntegrityError("UNIQUE constraint failed")) is None


@pytest.mark.postgres
def test_a_read_only_postgresql_transaction_is_read_only_even_as_the_library_wraps_it() -> None:
    require_postgres()
    conninfo = Settings(database_url=POSTGRES_URL).postgres_conninfo()
    with psycopg.connect(conninfo) as connection:
        connection.execute("SET TRANSACTION READ ONLY")
        with pytest.raises(psycopg.Error) as raised:
            connection.execute("CREATE TEMP TABLE refused (x int)")
    assert isinstance(raised.value, psycopg.errors.ReadOnlySqlTransaction)
    assert describe(raised.value) is READ_ONLY
    assert describe(wrapped(raised.value, InternalError)) is READ_ONLY  # was a 500


def test_a_postgresql_server_that_went_away_is_unavailable() -> None:
    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect("host=127.0.0.1 port=1 dbname=none user=none", connect_timeout=2)
    assert describe(raised.value) is UNAVAILABLE
    assert describe(wrapped(raised.value, OperationalError)) is UNAVAILABLE
