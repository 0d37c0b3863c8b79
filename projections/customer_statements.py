"""Customer statement: what a customer owed before a period, every document that changed it
in the period with a running balance, and what it owed at the end.

Each document counts from the date it first counts in open items: an invoice from its date; a
payment allocation, credit note or write-off from its own date, or its invoice's if that is
later; a reversal from its date (a reduction reversed before it ever counted shows neither
line). So the closing balance is always the open-items total as of the period's last day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from projections.queries import open_items
from projections.store import Cursor

ZERO = Decimal(0)
# Within one day: invoices, then what re-opens, then what reduces (a stable, readable order).
RANK = {
    "invoice": 0, "payment_reversal": 1, "credit_note_cancelled": 1, "credit_note": 2,
    "write_off": 3, "payment": 4,
}  # fmt: skip
REVERSAL = {"payment": "payment_reversal", "credit_note": "credit_note_cancelled",
            "write_off": "write_off_reversal"}  # fmt: skip

# Reductions of the customer's invoices that can put a line in [start, end].
_IN_PERIOD = (
    " JOIN invoices i ON i.number = r.invoice_number"
    " WHERE i.customer = ? AND i.currency = ? AND i.invoice_date <= ? AND r.effective_date <= ?"
    " AND (r.effective_date >= ? OR i.invoice_date >= ? OR r.reversed_date >= ?)"
)


def customer_statement(
    cur: Cursor, *, customer: str, currency: str, start: date, end: date
) -> dict[str, Any]:
    """The statement of one customer's account in one currency for [start, end]."""
    # Nothing is owed before the first day there is (from=0001-01-01).
    opening = (
        _owed(cur, customer, currency, start - timedelta(days=1)) if start > date.min else ZERO
    )
    lines = sorted(
        _documents(cur, customer, currency, start, end),
        key=lambda line: (line["date"], RANK.get(line["kind"], 1), line["reference"]),
    )
    balance = opening
    for line in lines:
        balance += line["amount"]
        line["balance"] = balance
    unapplied = _unapplied(cur, customer, currency, end)
    return {
        "customer": customer,
        "currency": currency,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "opening_balance": opening,
        "lines": lines,
        "closing_balance": balance,
        "unapplied_cash": sum((p["unapplied"] for p in unapplied), ZERO),
        "unapplied_payments": unapplied,
    }


def _owed(cur: Cursor, customer: str, currency: str, as_of: date) -> Decimal:
    items = open_items(cur, customer=customer, as_of=as_of)
    return sum((i["open"] for i in items if i["currency"] == currency), ZERO)


def _documents(
    cur: Cursor, customer: str, currency: str, start: date, end: date
) -> Iterator[dict[str, Any]]:
    first, last = start.isoformat(), end.isoformat()
    invoices = cur.execute(
        "SELECT number, invoice_date, due_date, total FROM invoices WHERE customer = ?"
        " AND currency = ? AND invoice_date >= ? AND invoice_date <= ?",
        (customer, currency, first, last),
    ).fetchdicts()
    for invoice in invoices:
        yield _line(invoice["invoice_date"], "invoice", invoice["number"], invoice["number"],
                    Decimal(invoice["total"]), due_date=invoice["due_date"])  # fmt: skip
    params = (customer, currency, last, last, first, first, first)
    allocations = cur.execute(
        "SELECT r.allocation_id AS reference, r.bank_ref, r.invoice_number, r.amount,"
        " r.effective_date, r.reversed_date, i.invoice_date FROM allocations r" + _IN_PERIOD,
        params,
    ).fetchdicts()
    for row in allocations:
        yield from _reduction(row, "payment", first, last, bank_ref=row["bank_ref"])
    credits = cur.execute(
        "SELECT r.credit_id AS reference, r.kind, r.invoice_number, r.amount,"
        " r.effective_date, r.reversed_date, i.invoice_date FROM invoice_credits r" + _IN_PERIOD,
        params,
    ).fetchdicts()
    for row in credits:
        yield from _reduction(row, row["kind"], first, last)


def _reduction(
    row: dict[str, Any], kind: str, first: str, last: str, **extra: Any
) -> Iterator[dict[str, Any]]:
    """A reduction counts from max(its date, its invoice's date) until it is reversed."""
    counts_from = max(row["effective_date"], row["invoice_date"])
    reversed_on = row["reversed_date"]
    if reversed_on is not None and reversed_on <= counts_from:
        return  # reversed before it ever counted: in no open-items figure, on no statement
    amount = Decimal(row["amount"])
    if first <= counts_from <= last:
        yield _line(counts_from, kind, row["reference"], row["invoice_number"], -amount, **extra)
    if reversed_on is not None and first <= reversed_on <= last:
        yield _line(reversed_on, REVERSAL[kind], row["reference"], row["invoice_number"],
                    amount, **extra)  # fmt: skip


def _line(
    day: str, kind: str, reference: str, invoice: str, amount: Decimal, **extra: Any
) -> dict[str, Any]:
    return {"date": day, "kind": kind, "reference": reference, "invoice_number": invoice,
            "amount": amount, **extra}  # fmt: skip


def _unapplied(cur: Cursor, customer: str, currency: str, end: date) -> list[dict[str, Any]]:
    """The customer's payments received by `end` and what of each was unapplied then. A
    payment is the customer's once any allocation (even a reversed one) named one of its
    invoices; a payment never allocated is nobody's yet and on no statement."""
    last = end.isoformat()
    mine = (
        "SELECT DISTINCT a.bank_ref FROM allocations a JOIN invoices i"
        " ON i.number = a.invoice_number WHERE i.customer = ?"
    )
    payments = cur.execute(
        "SELECT bank_ref, amount, value_date FROM payments WHERE currency = ?"
        f" AND value_date <= ? AND bank_ref IN ({mine}) ORDER BY value_date, bank_ref",
        (currency, last, customer),
    ).fetchdicts()
    applied: dict[str, Decimal] = {}
    for row in cur.execute(
        "SELECT bank_ref, amount FROM allocations WHERE effective_date <= ?"
        f" AND (reversed_date IS NULL OR reversed_date > ?) AND bank_ref IN ({mine})",
        (last, last, customer),
    ).fetchdicts():
        applied[row["bank_ref"]] = applied.get(row["bank_ref"], ZERO) + Decimal(row["amount"])
    listed = []
    for payment in payments:
        left = Decimal(payment["amount"]) - applied.get(payment["bank_ref"], ZERO)
        if left > 0:
            listed.append({**payment, "amount": Decimal(payment["amount"]), "unapplied": left})
    return listed
