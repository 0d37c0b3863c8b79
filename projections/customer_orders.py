"""A customer's own orders for their tracking pages: newest first, a page at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.store import Cursor

COLUMNS = (
    "number, status, stage, workflow, workflow_version, currency, total, ordered_qty,"
    " shipped_qty, delivered_qty, requested_delivery, promised_date, created_at"
)


def customer_orders(cur: Cursor, customer: str, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """The customer's orders, newest first (ix_orders_customer_created serves the order)."""
    rows = cur.execute(
        f"SELECT {COLUMNS} FROM sales_orders WHERE customer = ?"
        " ORDER BY created_at DESC, number DESC LIMIT ? OFFSET ?",
        (customer, limit, offset),
    ).fetchdicts()
    for row in rows:
        ordered = Decimal(row["ordered_qty"])
        row["total"] = Decimal(row["total"])
        for name in ("shipped", "delivered"):
            part = Decimal(row[f"{name}_qty"])
            row[f"{name}_pct"] = (part * 100 / ordered).quantize(Decimal(1)) if ordered else 0
    return rows
