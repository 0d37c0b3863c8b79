"""Questions about credit notes and write-offs, asked of the receivables read model."""

from __future__ import annotations

from typing import Any

from projections.queries import _decimals, _page
from projections.store import Cursor

CREDIT_NOTE_FIELDS = (
    "number, position, invoice_number, customer, currency, kind, net, tax, total,"
    " credit_note_date, reason, status, cancelled_date, cancel_reason, recorded_at"
)
WRITE_OFF_FIELDS = (
    "id, position, invoice_number, customer, currency, amount, status, requested_by,"
    " decided_by, decided_role, reason, decision_reason, effective_date, requested_at,"
    " decided_at"
)


def list_credit_notes(
    cur: Cursor, *, customer: str | None, invoice_number: str | None, after: int | None,
    limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Credit notes in the order they were issued (cursor: the log position)."""
    select = f"SELECT {CREDIT_NOTE_FIELDS} FROM credit_notes"
    filters = {"customer": customer, "invoice_number": invoice_number}
    return _decimals(_page(cur, select, filters, "position", after, limit), "net", "tax", "total")


def list_write_offs(
    cur: Cursor, *, status: str | None, customer: str | None, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Write-offs in the order they were requested, by status (pending, approved, rejected)."""
    select = f"SELECT {WRITE_OFF_FIELDS} FROM write_offs"
    filters = {"status": status, "customer": customer}
    return _decimals(_page(cur, select, filters, "position", after, limit), "amount")


def write_off(cur: Cursor, write_off_id: str) -> dict[str, Any] | None:
    rows = cur.execute(
        f"SELECT {WRITE_OFF_FIELDS} FROM write_offs WHERE id = ?", (write_off_id,)
    ).fetchdicts()
    return _decimals(rows, "amount")[0] if rows else None
