"""The ageing's sums, done by the database: per customer and currency, the open amount and
the number of open invoices in each bucket at the end of a business day.

The rule is `open_items`' own — an invoice dated by D owes its total less the allocations
and credits in force on D, and counts only while it still owes something — but the sums
and the buckets are SQL, so 100,000 invoices answer a few thousand rows, not one row per
open invoice to be added up in Python. For every customer the amounts come from the
receivables model's `invoice_open_spans` (what each invoice owes over business time, kept
by the projection): the spans in force on D are one index range. For one customer, its few
invoices look their allocations and credits up by index.

PostgreSQL sums NUMERIC exactly. SQLite keeps decimals as text, and its Decimal aggregate
(`dec_sum`) is a Python call per row; here amounts are summed as integers of 1/10,000
instead. That is exact: money in the read model has at most four decimal places
(`domain.values.money`; line amounts and tax are rounded to the currency's minor unit), and
below 10^11 a four-place decimal read as a double, times 10^4 and rounded, is its exact
integer. Should an invoice total reach 10^11 (the domain allows up to 10^15),
`bucket_sums` answers None and the caller adds the open items up as Decimals instead.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from projections.open_items import BUCKET_NAMES, BUCKETS, active
from projections.store import Cursor

SCALE = 4  # SQLite: amounts summed as integers of 10^-SCALE
SAFE_BELOW = "1e11"  # SQLite: totals below this convert to those integers exactly
EMPTY: dict[str, Any] = {**dict.fromkeys(BUCKET_NAMES, Decimal(0)), "total": Decimal(0), "items": 0}


def bucket_sums(
    cur: Cursor, *, as_of: date, customer: str | None = None, currency: str | None = None
) -> dict[tuple[str, str], dict[str, Any]] | None:
    """Per (customer, currency) with open invoices on `as_of`: `customer`, `currency`, each
    bucket's open amount, `total` (left 0 for the caller) and `items`, the open invoices.
    None on SQLite when an amount is too large to be summed exactly as an integer (see the
    module's docstring)."""
    if customer is None:  # every customer: the spans in force that day
        inner, params = _owed_spans(cur, as_of, currency)
    else:  # one customer's few invoices, each looked up by index
        inner, params = _owed(cur, as_of, customer, currency)
    bucket, edges = _bucket(cur, as_of)
    sqlite = cur.dialect == "sqlite"
    unsafe = "MAX(unsafe)" if sqlite else "0"
    keep = "owed > 0 OR unsafe = 1" if sqlite else "owed > 0"
    # Grouped by bucket too (a row per bucket with money in it), not five conditional sums
    # per row: PostgreSQL adds NUMERIC far faster that way, and SQLite a little.
    sql = (
        f"SELECT customer, currency, {bucket} AS bucket, SUM(owed), COUNT(*), {unsafe}"
        f" FROM ({inner}) o WHERE {keep} GROUP BY customer, currency, bucket"
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    grouped = cur.execute(sql, [*edges, *params]).fetchall()
    for who, code, number, amount, count, flagged in grouped:
        if flagged:
            return None
        row = found.get((who, code))
        if row is None:
            row = found[(who, code)] = {"customer": who, "currency": code, **EMPTY}
        row[BUCKET_NAMES[number]] = _amount(amount, sqlite)
        row["items"] += count
    return found


def _bucket(cur: Cursor, as_of: date) -> tuple[str, list[str]]:
    """SQL for the bucket's number (0: not due … 4: over 90 days), with its parameters —
    computed after the open invoices are picked out, for those only:
    days past due are as_of − due_date, so 1–30 days is due_date ≥ as_of − 30 (ISO dates
    compare as text; byte order on PostgreSQL, where a locale's collation costs more)."""
    due = 'due_date COLLATE "C"' if cur.dialect == "postgres" else "due_date"
    edges = [_minus(as_of, last) for _, last in BUCKETS if last is not None]
    tests = " ".join(f"WHEN {due} >= ? THEN {n}" for n in range(len(edges)))
    return f"CASE {tests} ELSE {len(edges)} END", edges


def _minus(day: date, days: int) -> str:
    """`day` less `days` as ISO text; '' (before every date) when that precedes year 1."""
    try:
        return (day - timedelta(days=days)).isoformat()
    except OverflowError:
        return ""


def _owed(
    cur: Cursor, as_of: date, customer: str | None, currency: str | None
) -> tuple[str, list[Any]]:
    """Each invoice dated by `as_of` with what it owed then (`owed`, scaled on SQLite).
    SQLite, and PostgreSQL for one customer, look each invoice's allocations and credits up
    by index; PostgreSQL for every customer sums them per invoice once and joins."""
    day = as_of.isoformat()
    sqlite = cur.dialect == "sqlite"
    if sqlite or customer:
        less, joins = f"COALESCE({_lookup(cur)}, 0)", ""
    else:
        less = "COALESCE(p.amount, 0) - COALESCE(c.amount, 0)"
        joins = _grouped(cur, "allocations", "p") + _grouped(cur, "invoice_credits", "c")
    # Placeholders in the order they appear: the lookups (or joins), then the filters.
    # `+`: SQLite reads the invoices in table order, as the lookups want them, rather than
    # through the invoice-date index (most invoices are dated by any day asked about).
    dated = "+i.invoice_date" if sqlite else "i.invoice_date"
    where, params = [f"{dated} <= ?"], [day, day, day, day, day]
    for column, value in (("customer", customer), ("currency", currency)):
        if value:
            where.append(f"i.{column} = ?")
            params.append(value)
    unsafe = f", CAST(i.total AS REAL) >= {SAFE_BELOW} AS unsafe" if sqlite else ""
    # SQLite would copy `owed` (and its lookups) into every sum that names it; a LIMIT keeps
    # the subquery a co-routine that computes it once per invoice.
    fence = " LIMIT -1" if sqlite else ""
    sql = (
        f"SELECT i.customer, i.currency, i.due_date,"
        f" {_amount_sql(cur, 'i.total')} - {less} AS owed{unsafe}"
        f" FROM invoices i{joins} WHERE {' AND '.join(where)}{fence}"
    )
    return sql, params


def _owed_spans(cur: Cursor, as_of: date, currency: str | None) -> tuple[str, list[Any]]:
    """What each invoice owed on `as_of`, from the receivables model's spans (an index
    range: the spans ending after the day, begun by it)."""
    day = as_of.isoformat()
    where, params = ["to_date > ?", "from_date <= ?"], [day, day]
    if currency:
        where.append("currency = ?")
        params.append(currency)
    unsafe = f", CAST(owed AS REAL) >= {SAFE_BELOW} AS unsafe" if cur.dialect == "sqlite" else ""
    sql = (
        f"SELECT customer, currency, due_date, {_amount_sql(cur, 'owed')} AS owed{unsafe}"
        f" FROM invoice_open_spans WHERE {' AND '.join(where)}"
    )
    return sql, params


def _amount_sql(cur: Cursor, column: str) -> str:
    if cur.dialect == "sqlite":
        return f"CAST(ROUND({column} * {10**SCALE}) AS INTEGER)"
    return column


def _lookup(cur: Cursor) -> str:
    """What the invoice's allocations and credits in force take off it: one subquery over
    both indexes (a subquery per invoice costs SQLite more than the rows it reads)."""
    return (
        f"(SELECT SUM({_amount_sql(cur, 'amount')}) FROM"
        f" (SELECT amount FROM allocations WHERE invoice_number = i.number AND {active()}"
        f" UNION ALL SELECT amount FROM invoice_credits"
        f" WHERE invoice_number = i.number AND {active()}) r)"
    )


def _grouped(cur: Cursor, table: str, alias: str) -> str:
    return (
        f" LEFT JOIN (SELECT invoice_number, SUM({_amount_sql(cur, 'amount')}) AS amount"
        f" FROM {table} WHERE {active()} GROUP BY invoice_number) {alias}"
        f" ON {alias}.invoice_number = i.number"
    )


def _amount(value: Any, scaled: bool) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(int(value)).scaleb(-SCALE) if scaled else Decimal(value)
