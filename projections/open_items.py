"""Open items as of any date: what each invoice still owed at the end of a business day.

As of day D an invoice is open by its total, less the allocations that took effect by D and
were not reversed by D, less its credits (credit notes, approved write-offs) effective by D
and not reversed by D; only invoices dated by D count, and only those still owing something.
Every date here is a business date (invoice, effective, reversal), never a recording time,
so the answer for a past day never changes when late entries are keyed in for other days.

The database does the work: the sums per invoice and the "still owes" test run in SQL,
exactly on both stores (see `Cursor.exact_sum`), and only open invoices come back.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from projections.store import Cursor

# Days past due → ageing bucket: (name, last day past due in it); the last bucket is open.
BUCKETS = (
    ("not_due", 0),
    ("days_1_30", 30),
    ("days_31_60", 60),
    ("days_61_90", 90),
    ("over_90", None),
)
BUCKET_NAMES = tuple(name for name, _ in BUCKETS)
FIELDS = "number, customer, currency, total, invoice_date, due_date, paid, credited"


def active(alias: str = "") -> str:
    """SQL: an allocation or credit counts on day ? (given twice): effective by then and not
    reversed by then."""
    at = f"{alias}." if alias else ""
    return f"{at}effective_date <= ? AND ({at}reversed_date IS NULL OR {at}reversed_date > ?)"


def bucket_of(days_past_due: int) -> str:
    """`not_due` while the due date is today or later (0 days past due), then 1–30, 31–60,
    61–90 and over 90 days past the due date."""
    for name, last in BUCKETS:
        if last is None or days_past_due <= last:
            return name
    raise AssertionError("the last bucket is open-ended")  # pragma: no cover


class OpenItem(NamedTuple):
    """One invoice still owing at the end of a day (amounts exact, dates ISO text)."""

    number: str
    customer: str
    currency: str
    total: Decimal
    invoice_date: str
    due_date: str
    paid: Decimal
    credited: Decimal
    open: Decimal
    days_past_due: int
    bucket: str


def open_rows(
    cur: Cursor, *, as_of: date, customer: str | None = None, currency: str | None = None
) -> list[OpenItem]:
    """The open invoices of `as_of` in no particular order: what `open_items` lists and
    the ageing buckets, from one query."""
    lateness: dict[str, tuple[int, str]] = {}  # due date → (days past due, bucket): few dates
    found = []
    for number, who, code, total, dated, due, paid, credited in cur.execute(
        *_statement(cur, customer, currency, as_of)
    ).fetchall():
        if due not in lateness:
            late = max(0, (as_of - date.fromisoformat(due)).days)
            lateness[due] = (late, bucket_of(late))
        total, paid, credited = Decimal(total), _amount(paid), _amount(credited)
        found.append(OpenItem(number, who, code, total, dated, due, paid, credited,
                              total - paid - credited, *lateness[due]))  # fmt: skip
    return found


def open_items(
    cur: Cursor,
    *,
    customer: str | None,
    as_of: date,
    currency: str | None = None,
) -> list[dict[str, Any]]:
    """Invoices with money still owed at the end of `as_of`, oldest due first, each with
    what was paid and credited by then, its derived status — open, partially paid, overdue
    — days past due and ageing bucket. Nothing here is a stored flag."""
    rows = open_rows(cur, as_of=as_of, customer=customer, currency=currency)
    # Sorted here, not in SQL: code-point order on both stores (PostgreSQL would sort text
    # by its locale's collation), and cheaper than the database's sort.
    rows.sort(key=lambda row: (row.due_date, row.number))
    return [_item(row) for row in rows]


def invoice_as_of(cur: Cursor, number: str, as_of: date) -> dict[str, Any] | None:
    """One invoice at the end of day `as_of`: what was paid and credited by then, what it
    still owed, and its status then — `not_issued` (dated later), `open`,
    `partially_paid`, `overdue` (with days past due), or `paid` (nothing left). None when
    the invoice is unknown."""
    day = as_of.isoformat()
    sql = (
        "SELECT i.number, i.customer, i.currency, i.total, i.invoice_date, i.due_date,"
        f" {_lookup(cur, 'allocations')} AS paid, {_lookup(cur, 'invoice_credits')} AS credited"
        " FROM invoices i WHERE i.number = ?"
    )
    row = cur.execute(sql, [day, day, day, day, number]).fetchone()
    if row is None:
        return None
    number, who, code, total, dated, due, paid, credited = row
    total, paid, credited = Decimal(total), _amount(paid), _amount(credited)
    owed = total - paid - credited
    late = max(0, (as_of - date.fromisoformat(due)).days)
    if dated > day:
        status, owed, late = "not_issued", Decimal(0), 0
    elif owed <= 0:
        status, late = "paid", 0
    else:
        status = "overdue" if late else ("partially_paid" if paid else "open")
    return {
        "number": number, "customer": who, "currency": code, "total": total,
        "invoice_date": dated, "due_date": due, "as_of": day, "paid": paid,
        "credited": credited, "open": max(owed, Decimal(0)), "status": status,
        "days_past_due": late,
    }  # fmt: skip


def _item(row: OpenItem) -> dict[str, Any]:
    item = row._asdict()
    late, paid = row.days_past_due, row.paid
    item["status"] = "overdue" if late else ("partially_paid" if paid else "open")
    return item


def _statement(
    cur: Cursor, customer: str | None, currency: str | None, as_of: date
) -> tuple[str, list[Any]]:
    """One query. For one customer, each of its invoices looks its allocations and credits
    up by index; for every customer, allocations and credits are summed per invoice once and
    joined (a lookup per invoice would cost more than one pass over them)."""
    day = as_of.isoformat()
    if customer:
        paid, credited = _lookup(cur, "allocations"), _lookup(cur, "invoice_credits")
        joins = ""
    else:
        paid, credited = "p.amount", "c.amount"
        joins = _grouped(cur, "allocations", "p") + _grouped(cur, "invoice_credits", "c")
    # Every customer: SQLite scans the invoices rather than reading most of them through
    # the invoice-date index (`+` keeps it off the index).
    dated = "+i.invoice_date" if cur.dialect == "sqlite" and not customer else "i.invoice_date"
    where, params = [f"{dated} <= ?"], [day, day, day, day, day]
    for column, value in (("customer", customer), ("currency", currency)):
        if value:
            where.append(f"i.{column} = ?")
            params.append(value)
    # Materialized for one customer: else both stores copy the lookups into the outer test
    # and run each several times per invoice.
    materialized = "MATERIALIZED " if customer else ""
    sql = (
        f"WITH owed AS {materialized}(SELECT i.number, i.customer, i.currency, i.total,"
        f" i.invoice_date, i.due_date, {paid} AS paid, {credited} AS credited"
        f" FROM invoices i{joins} WHERE {' AND '.join(where)})"
        f" SELECT {FIELDS} FROM owed WHERE {cur.exact_remains('total', 'paid', 'credited')}"
    )
    return sql, params


def _lookup(cur: Cursor, table: str) -> str:
    return (
        f"(SELECT {cur.exact_sum('amount')} FROM {table}"
        f" WHERE invoice_number = i.number AND {active()})"
    )


def _grouped(cur: Cursor, table: str, alias: str) -> str:
    return (
        f" LEFT JOIN (SELECT invoice_number, {cur.exact_sum('amount')} AS amount FROM {table}"
        f" WHERE {active()} GROUP BY invoice_number) {alias} ON {alias}.invoice_number = i.number"
    )


def _amount(value: Any) -> Decimal:
    """NUMERIC (PostgreSQL) or decimal text (SQLite) as a Decimal; no rows is zero."""
    return Decimal(0) if value is None else Decimal(value)
