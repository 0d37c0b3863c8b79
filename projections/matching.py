"""What automatic matching reads: payments with money left, open items, customers' names.

All from the receivables read model. Amounts are summed here in Python, exactly (SQLite
keeps decimals as text and would sum them as floats). Open amounts are what the ledger
would accept now: the invoice total less every allocation and every credit (credit note,
write-off) recorded and not reversed — whatever their effective dates, because the invoice
aggregate counts them all — for invoices dated on or before the given day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from domain.matching import OpenItem, PaymentToMatch
from projections.store import Cursor

CHUNK = 500
CENT = Decimal("0.01")
QUEUE_FIELDS = (
    "u.bank_ref, u.value_date, u.currency, u.unapplied, u.position, p.payer, p.amount,"
    " p.remittance, p.source, p.recorded_at"
)


def amount(value: Any) -> Decimal:
    """A stored amount as an exact Decimal with its meaningful places (NUMERIC(28,6) gives
    100.000000; show 100.00), never fewer than two."""
    number = Decimal(str(value)).normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        return number.quantize(CENT)
    return number


def payments_to_match(cur: Cursor, bank_refs: list[str] | None = None) -> list[PaymentToMatch]:
    """Every payment in the unapplied-cash queue, or only those of `bank_refs`."""
    sql = (
        "SELECT u.bank_ref, p.payer, u.unapplied, u.currency, u.value_date, p.remittance"
        " FROM unapplied_cash u JOIN payments p ON p.bank_ref = u.bank_ref"
    )
    rows = (
        cur.execute(sql).fetchall()
        if bank_refs is None
        else _in_chunks(cur, sql + " WHERE u.bank_ref IN ({marks})", bank_refs)
    )
    return [
        PaymentToMatch(ref, payer, amount(left), currency, date.fromisoformat(day), remittance)
        for ref, payer, left, currency, day, remittance in rows
    ]


def known_payments(cur: Cursor, bank_refs: list[str]) -> set[str]:
    """Which of `bank_refs` the read model has recorded (with money left or not)."""
    rows = _in_chunks(cur, "SELECT bank_ref FROM payments WHERE bank_ref IN ({marks})", bank_refs)
    return {row[0] for row in rows}


def open_items_now(
    cur: Cursor,
    as_of: date,
    *,
    customers: list[str] | None = None,
    numbers: list[str] | None = None,
) -> list[OpenItem]:
    """Invoices dated by `as_of` that still owe money (see the module docstring); all of
    them, or those of `customers` and those numbered `numbers`."""
    select = (
        "SELECT number, customer, currency, total, invoice_date, due_date FROM invoices"
        " WHERE invoice_date <= ?"
    )
    day = as_of.isoformat()
    if customers is None and numbers is None:
        invoices = cur.execute(select, (day,)).fetchall()
        owed = _deductions(cur, None)
    else:
        found = {
            row[0]: row
            for column, keys in (("customer", customers or []), ("number", numbers or []))
            for row in _in_chunks(cur, f"{select} AND {column} IN ({{marks}})", keys, day)
        }
        invoices = [found[number] for number in sorted(found)]
        owed = _deductions(cur, list(found))
    items = []
    for number, customer, currency, total, invoice_date, due_date in invoices:
        left = amount(Decimal(str(total)) - owed.get(number, Decimal(0)))
        if left > 0:
            items.append(OpenItem(
                number, customer, currency, left, date.fromisoformat(due_date),
                date.fromisoformat(invoice_date),
            ))  # fmt: skip
    return items


def _deductions(cur: Cursor, numbers: list[str] | None) -> dict[str, Decimal]:
    """Per invoice: allocations and credits recorded and not reversed."""
    owed: dict[str, Decimal] = {}
    for table in ("allocations", "invoice_credits"):
        sql = f"SELECT invoice_number, amount FROM {table} WHERE reversed_date IS NULL"
        rows = (
            cur.execute(sql).fetchall()
            if numbers is None
            else _in_chunks(cur, sql + " AND invoice_number IN ({marks})", numbers)
        )
        for number, value in rows:
            owed[number] = owed.get(number, Decimal(0)) + Decimal(str(value))
    return owed


def customer_names(cur: Cursor) -> list[tuple[str, str]]:
    """(code, name) of every customer, to recognise payers by."""
    rows = cur.execute("SELECT code, name FROM receivable_customers ORDER BY code").fetchall()
    return [(code, name) for code, name in rows]


def unapplied_queue(
    cur: Cursor, *, after: tuple[str, str] | None, currency: str | None, limit: int
) -> list[dict[str, Any]]:
    """Payments with money left, oldest value date first (then bank reference); `after` is
    the (value date, bank reference) of the last row of the previous page."""
    where: list[str] = []
    params: list[Any] = []
    if after is not None:
        where.append("(u.value_date > ? OR (u.value_date = ? AND u.bank_ref > ?))")
        params += [after[0], after[0], after[1]]
    if currency:
        where.append("u.currency = ?")
        params.append(currency)
    sql = f"SELECT {QUEUE_FIELDS} FROM unapplied_cash u JOIN payments p ON p.bank_ref = u.bank_ref"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY u.value_date, u.bank_ref LIMIT ?"
    rows = cur.execute(sql, [*params, limit]).fetchdicts()
    for row in rows:
        row["unapplied"], row["amount"] = amount(row["unapplied"]), amount(row["amount"])
    return rows


def unapplied_totals(cur: Cursor) -> dict[str, tuple[Decimal, int]]:
    """The unapplied-cash queue in figures: per currency, the money waiting and how many
    payments it is (one pass over the queue, summed by the database exactly)."""
    rows = cur.execute(
        f"SELECT currency, {cur.exact_sum('unapplied')}, COUNT(*) FROM unapplied_cash"
        " GROUP BY currency ORDER BY currency"
    ).fetchall()
    return {code: (amount(total), int(count)) for code, total, count in rows}


def _in_chunks(cur: Cursor, sql: str, keys: Iterable[str], *first: Any) -> list[tuple[Any, ...]]:
    """`sql` with `{marks}` run over `keys` in chunks (after the fixed parameters `first`)."""
    listed = sorted(set(keys))
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(listed), CHUNK):
        chunk = listed[start : start + CHUNK]
        statement = sql.replace("{marks}", ",".join("?" * len(chunk)))
        found += cur.execute(statement, [*first, *chunk]).fetchall()
    return found
