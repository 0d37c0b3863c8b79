"""The stored log read as plain rows, for the hash chain: no `Notification`, no `UUID`.

The library builds a `Notification` (and parses a `UUID`) for every row it reads, which was
most of the time of a chain verify; the chain needs only the stored fields, so the verify
reads them with the recorder's own connections and a plain SELECT:

    (position, topic, originator id as text, version, state bytes)

With the event store's cipher on, the chain links each state opened (`opened_rows`).

The id comes as the same text `str(UUID)` gives for every row the library wrote: PostgreSQL
stores a `uuid` and prints it in that form; SQLite stores the 32 hex digits (`UUID.hex`)
and the hyphens are put back here. Whatever else a SQLite row holds is hashed as stored, so
an id rewritten in another spelling is a changed event, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.cipher import Opener

# position, topic, originator id (text), originator version, state
Row = tuple[int, str, str, int, bytes]
Select = Callable[[int, int, int], list[Row]]

PAGE_SIZE = 1000  # measured on both stores: 500–5,000 rates alike; 1,000 keeps pages small


def row_pages(
    recorder: ApplicationRecorder,
    *,
    after: int = 0,
    stop: int,
    page_size: int = PAGE_SIZE,
    prefetch: bool = False,
) -> Iterator[list[Row]]:
    """Pages of stored rows after position `after`, up to `stop` (inclusive), in order.

    With `prefetch` the next page is selected on a helper thread while the caller hashes
    this one (worth it on PostgreSQL, where the wait is on the server)."""
    select = _selector(recorder)
    if not prefetch:
        while page := select(after, stop, page_size):
            yield page
            after = page[-1][0]
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain-reader") as reader:
        pending: Future[list[Row]] = reader.submit(select, after, stop, page_size)
        while page := pending.result():
            pending = reader.submit(select, page[-1][0], stop, page_size)
            yield page


def opened_rows(rows: list[Row], opener: Opener, unreadable: list[int]) -> list[Row]:
    """The rows with the event store's cipher taken off their states. A state that does not
    open stays as stored, and its position goes into `unreadable`: its digest then cannot
    be the one linked from the opened state, so a verification finds it."""
    result: list[Row] = []
    for position, topic, originator_id, version, state in rows:
        try:
            state = opener(state)
        except ValueError:
            unreadable.append(position)
        result.append((position, topic, originator_id, version, state))
    return result


def _selector(recorder: ApplicationRecorder) -> Select:
    if isinstance(recorder, PostgresApplicationRecorder):
        return _postgres(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite(recorder)
    raise TypeError(f"no row reader for {type(recorder).__name__}")


def _postgres(recorder: PostgresApplicationRecorder) -> Select:
    statement = SQL(
        "SELECT notification_id, topic, originator_id::text, originator_version, state"
        " FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s"
        " ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )

    def select(after: int, stop: int, limit: int) -> list[Row]:
        with (
            recorder.datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row, binary=True) as cursor,
        ):
            cursor.execute(statement, (after, stop, limit), prepare=True)
            return cursor.fetchall()

    return select


def _sqlite(recorder: SQLiteApplicationRecorder) -> Select:
    statement = (
        "SELECT rowid, topic, originator_id, originator_version, state"
        f" FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ?"
        " ORDER BY rowid LIMIT ?"
    )
    hyphens = recorder.datastore.originator_id_type == "uuid"

    def select(after: int, stop: int, limit: int) -> list[Row]:
        with recorder.datastore.transaction(commit=False) as wrapped:
            cursor = wrapped.sqlite_cursor
            cursor.row_factory = None  # plain tuples, not the library's sqlite3.Row
            rows: list[Row] = cursor.execute(statement, (after, stop, limit)).fetchall()
        if not hyphens:
            return rows
        return [
            (p, t, f"{o[:8]}-{o[8:12]}-{o[12:16]}-{o[16:20]}-{o[20:]}" if len(o) == 32 else o, v, s)
            for p, t, o, v, s in rows
        ]

    return select
