"""What a database error means for whoever sent the command: the store is unreachable or
busy, it accepts no writes, or it is out of space — or it is a defect (None).

Shared by the HTTP error mapping (`api/errors.py`) and the command line, so both name a
condition the same way. The library wraps driver errors in its own (`raise … from`), so the
driver's error is looked for along the causes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import psycopg_pool
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

# Every error a store can raise: what `describe` is asked about.
STORE_ERRORS: tuple[type[Exception], ...] = (
    PersistenceError, psycopg.Error, psycopg_pool.PoolTimeout, sqlite3.Error,
)  # fmt: skip
# Unreachable or busy: the library's and drivers' operational errors, and SQLite's codes
# for a lock, an I/O failure or a file it cannot open (its other OperationalErrors, such as
# "no such table", are defects).
_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)
_UNAVAILABLE_SQLITE = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT,
    sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_SCHEMA,
}  # fmt: skip


@dataclass(frozen=True)
class StoreTrouble:
    status: int
    rule: str
    detail: str


FULL = StoreTrouble(
    507, "store-full",
    "the ledger's database is out of space; nothing was stored, retry once space is freed",
)  # fmt: skip
READ_ONLY = StoreTrouble(
    503, "store-read-only",
    "the ledger's database accepts no writes (it is read-only); nothing was stored, retry later",
)  # fmt: skip
UNAVAILABLE = StoreTrouble(
    503, "store-unavailable",
    "the ledger's database is unavailable or busy; nothing was stored, retry shortly",
)  # fmt: skip


def describe(error: BaseException) -> StoreTrouble | None:
    """The condition behind a store error, or None when it is no condition of the store (a
    constraint broken, bad SQL: a defect, answered as one)."""
    causes = list(_causes(error))
    driver = next((c for c in reversed(causes) if isinstance(c, sqlite3.Error | psycopg.Error)),
                  None)  # fmt: skip
    if isinstance(driver, sqlite3.Error):
        code = _sqlite_code(driver)
        if code == sqlite3.SQLITE_FULL:
            return FULL
        if code == sqlite3.SQLITE_READONLY:
            return READ_ONLY
        return UNAVAILABLE if code in _UNAVAILABLE_SQLITE else None
    if isinstance(driver, psycopg.errors.DiskFull):
        return FULL
    if isinstance(
        driver, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege
    ):
        return READ_ONLY
    if any(isinstance(cause, _UNAVAILABLE) for cause in causes):
        return UNAVAILABLE
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlite_code(error: BaseException) -> int | None:
    """The primary result code of a SQLite error (extended codes keep it in the low byte)."""
    code = getattr(error, "sqlite_errorcode", None) if isinstance(error, sqlite3.Error) else None
    return None if code is None else int(code) & 0xFF
