"""Where read models live: a SQLite file or a PostgreSQL schema, behind one small interface.

Projection SQL is written once with `?` placeholders and portable types (`{dec}`, `{ts}`,
`{bigint}`, `{bool}`, `{bytes}` in DDL); the PostgreSQL store rewrites placeholders to `%s`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

DDL_TYPES = {
    "sqlite": {
        "dec": "TEXT",
        "ts": "TEXT",
        "bigint": "INTEGER",
        "bool": "INTEGER",
        "bytes": "BLOB",
    },
    "postgres": {
        "dec": "NUMERIC(28,6)",
        "ts": "TIMESTAMPTZ",
        "bigint": "BIGINT",
        "bool": "BOOLEAN",
        "bytes": "BYTEA",
    },
}


class Cursor:
    """A DB-API cursor that takes `?` placeholders on every store."""

    def __init__(
        self, raw: Any, dialect: str, copy_types: dict[str, list[int]] | None = None
    ) -> None:
        self.raw = raw
        self.dialect = dialect
        # Column type oids per "table(columns)" for COPY, shared by the store's cursors.
        self.copy_types = {} if copy_types is None else copy_types

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self.raw.execute(self._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self._sql(sql), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append rows in bulk: multi-row VALUES on SQLite, COPY on PostgreSQL."""
        if not rows:
            return
        if self.dialect == "postgres":
            self._copy(table, columns, rows)
            return
        width = len(columns)
        one = "(" + ",".join("?" * width) + ")"
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            self.raw.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([one] * len(part))}",
                [value for row in part for value in row],
            )

    def upsert_rows(
        self, table: str, columns: Sequence[str], key: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert or replace rows by `key`, in bulk (PostgreSQL: COPY to a temp table first)."""
        if not rows:
            return
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
        names = ", ".join(columns)
        if self.dialect == "postgres":
            staging = f"staging_{table}"
            self.raw.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS"
            )
            self._copy(staging, columns, rows)
            self.raw.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}"
                f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
            )
            return
        self.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(columns))})"
            f" ON CONFLICT ({key}) DO UPDATE SET {updates}",
            rows,
        )

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        names = ", ".join(columns)
        types = self._column_types(table, names)
        with self.raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.set_types(types)  # one dumper per column, not a lookup per value
            for row in rows:
                copy.write_row(row)

    def _column_types(self, table: str, names: str) -> list[int]:
        key = f"{table}({names})"
        if key not in self.copy_types:
            self.raw.execute(
                "SELECT attname, atttypid::int FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            oids = dict(self.raw.fetchall())
            self.copy_types[key] = [oids[name.strip()] for name in names.split(",")]
        return self.copy_types[key]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.raw.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.raw.fetchall()]

    def fetchdicts(self) -> list[dict[str, Any]]:
        names = [column[0] for column in self.raw.description]
        return [dict(zip(names, row, strict=True)) for row in self.raw.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self.raw.rowcount)

    def ddl(self, statement: str) -> None:
        self.raw.execute(statement.format(**DDL_TYPES[self.dialect]))

    def exact_sum(self, expression: str) -> str:
        """SQL for an exact sum of a `{dec}` expression (NULL over no rows, like SUM).

        PostgreSQL sums NUMERIC exactly. SQLite keeps decimals as text, and its own SUM would
        go through binary floating point, so there the sum is `dec_sum`, a Decimal aggregate
        registered on every connection of the store."""
        return f"SUM({expression})" if self.dialect == "postgres" else f"dec_sum({expression})"

    def exact_remains(self, total: str, *less: str) -> str:
        """SQL that is true when `total` minus the `less` terms (NULL counts as 0) is above
        zero, exactly on both stores (SQLite: `dec_remains`, a Decimal function)."""
        if self.dialect == "postgres":
            return " - ".join([total, *(f"COALESCE({term}, 0)" for term in less)]) + " > 0"
        # The common cases need no Decimal: nothing to take off (a decimal's sign survives
        # the conversion to a float), or the first term written exactly as the total.
        nothing = " AND ".join(f"{term} IS NULL" for term in less)
        rest = "".join(f" AND {term} IS NULL" for term in less[1:])
        return (
            f"CASE WHEN {nothing} THEN CAST({total} AS REAL) > 0"
            f" WHEN {less[0]} = {total}{rest} THEN 0"
            f" ELSE dec_remains({', '.join([total, *less])}) END"
        )


class ViewStore:
    """Transactions on the read-model database."""

    dialect = ""

    @contextmanager
    def transaction(self, *, synchronous: bool = True) -> Iterator[Cursor]:
        """One read-model transaction. `synchronous=False` lets the commit return before
        its WAL reaches the disk (PostgreSQL): a crash may lose it, never tear it — only for
        work that is redone from the start after a crash, such as filling rebuild shadows."""
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        raise NotImplementedError
        yield  # pragma: no cover

    def lock_tracking_sql(self) -> str:
        return ""

    def close(self) -> None:
        """Release connections."""


def _adapt_datetime(value: datetime) -> str:
    return value.isoformat()


class _DecimalSum:
    """`dec_sum(x)`: the exact sum of decimal text (SQLite's SUM would use floats)."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = (self.total or Decimal(0)) + Decimal(value)

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def _remains(total: Any, *less: Any) -> bool:
    """`dec_remains(total, a, b, …)`: total − a − b − … > 0, exactly (NULL counts as 0)."""
    left = Decimal(total)
    for term in less:
        if term is not None:
            left -= Decimal(term)
    return left > 0


def _register_decimal_functions(connection: sqlite3.Connection) -> None:
    # typeshed wants aggregates to return int; SQLite takes any value (text here).
    connection.create_aggregate("dec_sum", 1, _DecimalSum)  # type: ignore[arg-type]
    connection.create_function("dec_remains", -1, _remains, deterministic=True)


class SQLiteViewStore(ViewStore):
    """Read models in their own SQLite file (WAL), so they never block event writes."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        sqlite3.register_adapter(Decimal, str)
        sqlite3.register_adapter(datetime, _adapt_datetime)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache (the default is 2 MiB): the movement ledger's indexes grow
            # with every event, and a catch-up touches them all the time.
            connection.execute("PRAGMA cache_size=-65536")
            _register_decimal_functions(connection)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def transaction(self, *, synchronous: bool = True) -> Iterator[Cursor]:
        # WAL with synchronous=NORMAL already commits without a sync: nothing to relax.
        connection = self._connection()
        raw = connection.cursor()
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield Cursor(raw, self.dialect)
        except BaseException:
            connection.rollback()
            raise
        else:
            connection.commit()
        finally:
            raw.close()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        raw = self._connection().cursor()
        try:
            yield Cursor(raw, self.dialect)
        finally:
            raw.close()

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


class PostgresViewStore(ViewStore):
    """Read models in their own PostgreSQL schema, for analysts to query with plain SQL."""

    dialect = "postgres"

    def __init__(self, conninfo: str, schema: str, pool_size: int = 5) -> None:
        from psycopg_pool import ConnectionPool

        self.schema = schema
        self._copy_types: dict[str, list[int]] = {}
        self.ensure_schema(conninfo, schema)
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"options": f"-c search_path={schema}"},
            open=True,
        )

    @staticmethod
    def ensure_schema(conninfo: str, schema: str) -> None:
        import psycopg

        with psycopg.connect(conninfo, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if not exists:
                # Another process may create it at the same moment: that is fine too.
                with contextlib.suppress(psycopg.errors.UniqueViolation):
                    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

    def lock_tracking_sql(self) -> str:
        return " FOR UPDATE"

    @contextmanager
    def transaction(self, *, synchronous: bool = True) -> Iterator[Cursor]:
        with (
            self.pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as raw,
        ):
            if not synchronous:  # this transaction only (SET LOCAL ends with it)
                raw.execute("SET LOCAL synchronous_commit TO OFF")
            yield Cursor(raw, self.dialect, self._copy_types)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self.pool.connection() as connection, connection.cursor() as raw:
            yield Cursor(raw, self.dialect)
            connection.rollback()

    def close(self) -> None:
        self.pool.close()
