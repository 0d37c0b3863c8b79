"""Bank statements read model: one row per imported statement file, and the payments each
brought in (so a statement can show how many of them are matched to invoices by now)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from domain.bank_statements import BankStatement
from projections.base import Index, PositionedEvent, Projection, events_of, meta_of
from projections.store import Cursor

COLUMNS = [
    "statement_id", "position", "file_name", "file_sha256", "format", "account", "lines",
    "imported", "duplicates_skipped", "debits_skipped", "pending_skipped", "bad_lines",
    "totals", "actor", "recorded_at",
]  # fmt: skip
LIST_COLUMNS = ", ".join(COLUMNS)


class StatementsProjection(Projection):
    name = "bank_statements"
    event_classes = events_of(BankStatement, "Imported")
    tables = {
        "bank_statements": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " statement_id TEXT PRIMARY KEY, position {bigint} NOT NULL,"
            " file_name TEXT NOT NULL, file_sha256 TEXT NOT NULL, format TEXT NOT NULL,"
            " account TEXT NOT NULL, lines INTEGER NOT NULL, imported INTEGER NOT NULL,"
            " duplicates_skipped INTEGER NOT NULL, debits_skipped INTEGER NOT NULL,"
            " pending_skipped INTEGER NOT NULL, bad_lines INTEGER NOT NULL,"
            " totals TEXT NOT NULL, actor TEXT, recorded_at {ts} NOT NULL)"
        ),
        "bank_statement_payments": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " statement_id TEXT NOT NULL, bank_ref TEXT NOT NULL,"
            " PRIMARY KEY (statement_id, bank_ref))"
        ),
    }
    indexes = (
        Index("ix_bank_statements_position", "bank_statements", "position", unique=True),
        Index("ix_bank_statement_payments_ref", "bank_statement_payments", "bank_ref"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        statements: list[tuple[Any, ...]] = []
        payments: list[tuple[Any, ...]] = []
        for position, e in events:
            statement = str(e.originator_id)
            totals = {code: str(amount) for code, amount in e.totals.items()}
            statements.append((
                statement, position, e.file_name, e.file_sha256, e.format, e.account, e.lines,
                e.imported, e.duplicates_skipped, e.debits_skipped, e.pending_skipped,
                len(e.bad_lines), orjson.dumps(totals).decode(), meta_of(e).get("actor"),
                e.timestamp,
            ))  # fmt: skip
            payments += [(statement, ref) for ref in e.bank_refs_imported]
        cur.insert_rows(self.t("bank_statements"), COLUMNS, statements)
        cur.insert_rows(self.t("bank_statement_payments"), ["statement_id", "bank_ref"], payments)


def list_statements(cur: Cursor, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Statements newest first (cursor: the position of the last one on the previous page)."""
    sql = f"SELECT {LIST_COLUMNS} FROM bank_statements"
    params: list[Any] = []
    if before is not None:
        sql += " WHERE position < ?"
        params.append(before)
    rows = cur.execute(sql + " ORDER BY position DESC LIMIT ?", [*params, limit]).fetchdicts()
    for row in rows:
        row["totals"] = orjson.loads(row["totals"])
    return rows


def matched_by_rule(cur: Cursor, statement: str) -> dict[str, int]:
    """How many of the statement's payments are applied to invoices now, by the rule (or
    `manual`) of their first active allocation."""
    rows = cur.execute(
        "SELECT a.bank_ref, a.rule FROM allocations a JOIN bank_statement_payments s"
        " ON s.bank_ref = a.bank_ref WHERE s.statement_id = ? AND a.reversed_date IS NULL"
        " ORDER BY a.bank_ref, a.allocation_id",
        (statement,),
    ).fetchall()
    first: dict[str, str] = {}
    for bank_ref, rule in rows:
        first.setdefault(str(bank_ref), str(rule))
    counts: dict[str, int] = {}
    for rule in first.values():
        counts[rule] = counts.get(rule, 0) + 1
    return counts
