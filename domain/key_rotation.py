"""Re-encrypting stored states under the current key: the second half of a key rotation.

Every state of the event table and the snapshot table that the current key does not open
is opened with an old key (`CIPHER_OLD_KEYS`) — or, when asked, taken as stored in plain —
and written back encrypted under the current key. Rows are read a page at a time, in key
order, and each page is written in one transaction; a row is only updated if it still holds
the state that was read, so whatever else touches the table meanwhile, nothing is
overwritten with a stale state. Rows already under the current key are skipped: a run that
stopped half-way (a crash, Ctrl-C) is finished by running it again.

The opened states do not change, and the hash chain links opened states (`replay.chain`), so
every recorded link, signed checkpoint and exported bundle stays valid through a rotation.
This module and `replay.stored_rows` are the only SQL on the event tables besides the
library's recorders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import AggregateRecorder
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.cipher import LedgerCipher, is_plain

PAGE_SIZE = 1000
SHOWN = 5  # unreadable rows named in the report

Key = tuple[Any, int]  # (originator id as the table stores it, originator version)
Row = tuple[Any, int, bytes]


@dataclass
class Rotation:
    """What a run found and did, over both tables."""

    scanned: int = 0
    current: int = 0  # already under the current key
    reencrypted: int = 0  # from an old key
    encrypted: int = 0  # stored in plain, now encrypted
    raced: int = 0  # changed between read and write: left for the next run
    unreadable: int = 0  # no key opens them (and not plain): left as they are
    unreadable_rows: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """States still not under the current key after this run."""
        return self.raced + self.unreadable


def rotate(
    app: Application[Any],
    *,
    encrypt_plain: bool = False,
    dry_run: bool = False,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
) -> Rotation:
    """Bring every stored state (events, then snapshots) under the current key."""
    cipher = app.mapper.cipher
    if not isinstance(cipher, LedgerCipher):
        raise ValueError("the event store's cipher is off: set ORDERLEDGER_CIPHER_KEY first")
    done = Rotation()
    for recorder in _recorders(app):
        table = _table(recorder)
        for page in table.pages(page_size):
            writes = _page(cipher, page, table.name, encrypt_plain, done)
            if writes and not dry_run:
                done.raced += len(writes) - table.update(writes)
            if on_page:
                on_page(done.scanned)
    return done


def count_rows(app: Application[Any]) -> int:
    """Rows of the event and snapshot tables (for a progress bar)."""
    return sum(_table(recorder).count() for recorder in _recorders(app))


def _recorders(app: Application[Any]) -> list[AggregateRecorder]:
    recorders: list[AggregateRecorder] = [app.recorder]
    if app.snapshots is not None:
        recorders.append(app.snapshots.recorder)
    return recorders


def _page(
    cipher: LedgerCipher, rows: list[Row], name: str, encrypt_plain: bool, done: Rotation
) -> list[tuple[bytes, Any, int, bytes]]:
    """The page's updates: (new state, originator id, version, state as read)."""
    writes = []
    for originator_id, version, state in rows:
        done.scanned += 1
        found = cipher.open_with(state)
        if found is not None and found[0] == 0:
            done.current += 1
        elif found is not None:
            writes.append((cipher.encrypt(found[1]), originator_id, version, state))
            done.reencrypted += 1
        elif encrypt_plain and is_plain(state):
            writes.append((cipher.encrypt(state), originator_id, version, state))
            done.encrypted += 1
        else:
            done.unreadable += 1
            if len(done.unreadable_rows) < SHOWN:
                done.unreadable_rows.append(f"{name} {originator_id} v{version}")
    return writes


class _Table:
    """One table of stored states, read in primary-key order and updated row by row."""

    name: str

    def pages(self, page_size: int) -> Iterator[list[Row]]:
        after: Key | None = None
        while page := self.select(after, page_size):
            yield page
            after = (page[-1][0], page[-1][1])

    def select(self, after: Key | None, limit: int) -> list[Row]:
        raise NotImplementedError

    def update(self, writes: list[tuple[bytes, Any, int, bytes]]) -> int:
        """Write the page in one transaction; how many rows still held the state read."""
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


def _table(recorder: AggregateRecorder) -> _Table:
    if isinstance(recorder, PostgresAggregateRecorder):
        return _PostgresTable(recorder)
    if isinstance(recorder, SQLiteAggregateRecorder):
        return _SQLiteTable(recorder)
    raise TypeError(f"no key rotation for {type(recorder).__name__}")


class _SQLiteTable(_Table):
    def __init__(self, recorder: SQLiteAggregateRecorder) -> None:
        self.datastore, self.name = recorder.datastore, recorder.events_table_name

    def select(self, after: Key | None, limit: int) -> list[Row]:
        sql = f"SELECT originator_id, originator_version, state FROM {self.name}"
        if after is not None:
            sql += " WHERE (originator_id, originator_version) > (?, ?)"
        sql += " ORDER BY originator_id, originator_version LIMIT ?"
        with self.datastore.transaction(commit=False) as wrapped:
            cursor = wrapped.sqlite_cursor
            cursor.row_factory = None
            rows: list[Row] = cursor.execute(sql, (*(after or ()), limit)).fetchall()
        return rows

    def update(self, writes: list[tuple[bytes, Any, int, bytes]]) -> int:
        sql = (
            f"UPDATE {self.name} SET state = ? WHERE originator_id = ?"
            " AND originator_version = ? AND state = ?"
        )
        with self.datastore.transaction(commit=True) as wrapped:
            cursor = wrapped.sqlite_cursor
            cursor.executemany(sql, writes)
            return int(cursor.rowcount)

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as wrapped:
            cursor = wrapped.sqlite_cursor
            return int(cursor.execute(f"SELECT count(*) FROM {self.name}").fetchone()[0])


class _PostgresTable(_Table):
    def __init__(self, recorder: PostgresAggregateRecorder) -> None:
        self.datastore, self.name = recorder.datastore, recorder.events_table_name
        table = SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.name))
        columns = SQL("SELECT originator_id, originator_version, state FROM {}").format(table)
        order = SQL(" ORDER BY originator_id, originator_version LIMIT %s")
        self.first = columns + order
        self.after = columns + SQL(" WHERE (originator_id, originator_version) > (%s, %s)") + order
        self.write = SQL(
            "UPDATE {} SET state = %s WHERE originator_id = %s AND originator_version = %s"
            " AND state = %s"
        ).format(table)
        self.counting = SQL("SELECT count(*) FROM {}").format(table)

    def select(self, after: Key | None, limit: int) -> list[Row]:
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row, binary=True) as cursor,
        ):
            if after is None:
                cursor.execute(self.first, (limit,))
            else:
                cursor.execute(self.after, (*after, limit))
            return cursor.fetchall()

    def update(self, writes: list[tuple[bytes, Any, int, bytes]]) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(self.write, writes)
            return int(cursor.rowcount)

    def count(self) -> int:
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            found = cursor.execute(self.counting).fetchone()
        return int(found[0]) if found else 0
