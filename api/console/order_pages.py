"""What the order pages gather beside the order itself: its receivable and invoices, its
approval levels with who decided them, the customer's name, and read-your-writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from api.deps import wait_for_position
from api.errors import ApiError
from api.runtime import Runtime
from domain.exceptions import NotFound
from projections import queries
from projections.open_items import invoice_as_of
from projections.store import Cursor

DECISIONS = ("Submitted", "ApprovalGiven", "Rejected")
MAX_RECEIVABLES = 100  # shipments of one order, far more than any has


def wait_for(rt: Runtime, min_position: str | None) -> None:
    """After a change made from a page (console.js puts the command's position into the
    address it goes to next), show the read models once they include it; a position the
    log does not have, or a projection that lags too long, leaves the page as it is."""
    if not min_position or not min_position.isdigit():
        return
    try:
        wait_for_position(rt, int(min_position), "orders")
    except ApiError:
        return


def customer_name(rt: Runtime, code: str) -> str | None:
    try:
        return rt.ledger.customer_view(code).name
    except NotFound:
        return None


def receivable(cur: Cursor, number: str, today: date) -> dict[str, Any]:
    """The order's receivables (one per shipment) and each invoice billing them, with what
    was paid, credited and is still open on the invoice as of today."""
    rows = queries.list_receivables(
        cur, customer=None, order_number=number, status=None, after=None, limit=MAX_RECEIVABLES
    )
    invoices = []
    for invoice in sorted({row["invoice_number"] for row in rows if row["invoice_number"]}):
        found = invoice_as_of(cur, invoice, today)
        if found is not None:
            invoices.append(found)
    total = sum((row["total"] for row in rows), Decimal(0))
    return {"rows": rows, "invoices": invoices, "total": total,
            "currency": rows[0]["currency"] if rows else None}  # fmt: skip


def approval_levels(approval: dict[str, Any], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each level asked for at the last submission: its role and rule, and who approved it
    when (the timeline's approvals since that submission, in order), or that it waits."""
    since = [step for step in _since_last(steps, "Submitted") if step["kind"] == "ApprovalGiven"]
    given = approval["approvals"]
    levels = []
    for index, level in enumerate(approval["levels"]):
        state = "approved" if index < len(given) else "later"
        if index == len(given) and approval["awaiting_role"]:
            state = "waiting"
        decided = since[index] if index < len(given) and index < len(since) else None
        levels.append({
            "level": index + 1, "role": level.get("role"), "rule": level.get("rule"),
            "state": state, "comment": given[index].get("comment") if index < len(given) else "",
            "by": decided["actor"] if decided else None,
            "at": decided["recorded_at"] if decided else None,
        })  # fmt: skip
    return levels


def _since_last(steps: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    last = max((i for i, step in enumerate(steps) if step["kind"] == kind), default=None)
    return [] if last is None else steps[last + 1 :]
