"""Accounts-receivable figures as of any date: ageing, collection rate, DSO, days to pay.

Every figure is per currency (amounts in two currencies never add up) and built from the
receivables read model with business dates only, so a past date always answers the same.
The ageing sums the very open items `open_items` lists for the same date (the same rule,
summed and bucketed by the database: `projections.ageing`), so its total is theirs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.exceptions import InvalidInput
from projections.ageing import bucket_sums
from projections.open_items import BUCKET_NAMES, active, open_rows
from projections.store import Cursor

ZERO = Decimal(0)
RATE_PLACES = Decimal("0.0001")
DAY_PLACES = Decimal("0.1")


def ageing(
    cur: Cursor, *, as_of: date, customer: str | None = None, currency: str | None = None
) -> dict[str, Any]:
    """Open amounts by days past due (not due, 1–30, 31–60, 61–90, over 90) per customer and
    currency, totals per currency, and the open-items total of the same date beside them."""
    rows = bucket_sums(cur, as_of=as_of, customer=customer, currency=currency)
    if rows is None:
        rows = _added_rows(cur, as_of, customer, currency)
    totals: dict[str, dict[str, Any]] = {}
    for (_, code), row in sorted(rows.items()):
        row["total"] = sum((row[name] for name in BUCKET_NAMES), ZERO)
        total = totals.setdefault(code, _empty_row())
        for name in (*BUCKET_NAMES, "total", "items"):
            total[name] += row[name]
    return {
        "as_of": as_of,
        "buckets": list(BUCKET_NAMES),
        "customers": [rows[key] for key in sorted(rows)],
        "totals": dict(sorted(totals.items())),
        "open_items_total": {code: total["total"] for code, total in totals.items()},
    }


Rows = dict[tuple[str, str], dict[str, Any]]


def _added_rows(cur: Cursor, as_of: date, customer: str | None, currency: str | None) -> Rows:
    """The same rows added up in Python from the open items, exactly (see `bucket_sums`)."""
    rows: Rows = {}
    for item in open_rows(cur, as_of=as_of, customer=customer, currency=currency):
        key = (item.customer, item.currency)
        if key not in rows:
            rows[key] = _empty_row(customer=item.customer, currency=item.currency)
        rows[key][item.bucket] += item.open
        rows[key]["items"] += 1
    return rows


def _empty_row(**key: str) -> dict[str, Any]:
    return {**key, **dict.fromkeys(BUCKET_NAMES, ZERO), "total": ZERO, "items": 0}


@dataclass
class Figures:
    """One customer's (or everyone's) figures in one currency over a period."""

    open_at_start: Decimal = ZERO
    invoiced: Decimal = ZERO
    collected: Decimal = ZERO
    credited: Decimal = ZERO
    open_at_end: Decimal = ZERO
    overdue_count: int = 0
    overdue_amount: Decimal = ZERO
    paid_amount: Decimal = ZERO  # what the day averages are weighted by
    paid_days: Decimal = ZERO  # Σ amount × days from invoice date to payment
    late_days: Decimal = ZERO  # Σ amount × days after the due date (0 if on time)

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def report(self, days: int) -> dict[str, Any]:
        base = self.open_at_start + self.invoiced
        return {
            "open_at_start": self.open_at_start,
            "invoiced": self.invoiced,
            "collected": self.collected,
            "credited": self.credited,
            "open_at_end": self.open_at_end,
            "collection_rate": _ratio(self.collected, base, RATE_PLACES),
            "dso_days": _ratio(self.open_at_end * days, self.invoiced, DAY_PLACES),
            "average_days_to_pay": _ratio(self.paid_days, self.paid_amount, DAY_PLACES),
            "average_days_late": _ratio(self.late_days, self.paid_amount, DAY_PLACES),
            "paid_amount": self.paid_amount,
            "overdue_count": self.overdue_count,
            "overdue_amount": self.overdue_amount,
        }


def _ratio(numerator: Decimal, denominator: Decimal, places: Decimal) -> Decimal | None:
    """None when there is nothing to divide by: a rate of nothing is not 0 (nor infinite)."""
    if denominator <= 0:
        return None
    return (numerator / denominator).quantize(places, rounding=ROUND_HALF_UP)


@dataclass
class _Book:
    """Figures per (customer, currency) as they are gathered."""

    figures: dict[tuple[str, str], Figures] = field(default_factory=dict)

    def at(self, customer: str, currency: str) -> Figures:
        return self.figures.setdefault((customer, currency), Figures())


def metrics(cur: Cursor, *, start: date, end: date, customer: str | None = None) -> dict[str, Any]:
    """Collection rate, DSO, average days to pay and late, overdue count and amount over the
    days `start`..`end` (both included), per customer and overall, per currency."""
    if start > end:
        raise InvalidInput(f"the period starts ({start}) after it ends ({end})")
    book = _Book()
    if start > date.min:
        for item in open_rows(cur, customer=customer, as_of=start - timedelta(days=1)):
            book.at(item.customer, item.currency).open_at_start += item.open
    for item in open_rows(cur, customer=customer, as_of=end):
        figures = book.at(item.customer, item.currency)
        figures.open_at_end += item.open
        if item.days_past_due:
            figures.overdue_count += 1
            figures.overdue_amount += item.open
    _invoiced(cur, book, start, end, customer)
    for table, name in (("allocations", "collected"), ("invoice_credits", "credited")):
        _net_applied(cur, book, table, name, start, end, customer)
    _days_to_pay(cur, book, start, end, customer)
    return _report(book, start, end, customer)


def dso(
    cur: Cursor, *, start: date, end: date, open_at_end: dict[str, Decimal]
) -> dict[str, Decimal | None]:
    """Days sales outstanding over `start`..`end` per currency, exactly as `metrics` reports
    it for every customer, given what was open at the end (the ageing's total of `end`):
    only what was invoiced in the period is read here, not the open items twice over."""
    book = _Book()
    _invoiced(cur, book, start, end, None)
    overall: dict[str, Figures] = {code: Figures(open_at_end=total)
                                   for code, total in open_at_end.items()}  # fmt: skip
    for (_, code), figures in book.figures.items():
        overall.setdefault(code, Figures()).invoiced += figures.invoiced
    days = (end - start).days + 1
    return {code: f.report(days)["dso_days"] for code, f in sorted(overall.items())}


def _report(book: _Book, start: date, end: date, customer: str | None) -> dict[str, Any]:
    days = (end - start).days + 1
    overall: dict[str, Figures] = {}
    per_customer: dict[str, dict[str, Any]] = defaultdict(dict)
    for (who, currency), figures in sorted(book.figures.items()):
        overall.setdefault(currency, Figures()).add(figures)
        per_customer[who][currency] = figures.report(days)
    return {
        "from": start,
        "to": end,
        "days": days,
        "customer": customer,
        "currencies": {c: f.report(days) for c, f in sorted(overall.items())},
        "customers": [{"customer": who, "currencies": by} for who, by in per_customer.items()],
    }


def _customer_filter(customer: str | None) -> tuple[str, list[Any]]:
    return (" AND i.customer = ?", [customer]) if customer else ("", [])


def _invoiced(cur: Cursor, book: _Book, start: date, end: date, customer: str | None) -> None:
    narrow, params = _customer_filter(customer)
    rows = cur.execute(
        f"SELECT i.customer, i.currency, {cur.exact_sum('i.total')} FROM invoices i"
        f" WHERE i.invoice_date >= ? AND i.invoice_date <= ?{narrow}"
        " GROUP BY i.customer, i.currency",
        [start.isoformat(), end.isoformat(), *params],
    ).fetchall()
    for who, currency, total in rows:
        book.at(who, currency).invoiced += Decimal(total)


def _net_applied(
    cur: Cursor, book: _Book, table: str, name: str, start: date, end: date, customer: str | None
) -> None:
    """What was applied by the end of the period less what was applied the day before it
    began: allocations (or credits) that took effect in the period, net of those reversed
    in it. Only rows dated in the period can differ between the two days."""
    narrow, params = _customer_filter(customer)
    first, last = start.isoformat(), end.isoformat()
    # No day comes before date.min: nothing can have been applied then ('' precedes every date).
    before = (start - timedelta(days=1)).isoformat() if start > date.min else ""
    applied = f"CASE WHEN {active('a')} THEN a.amount END"
    rows = cur.execute(
        f"SELECT i.customer, i.currency,"
        f" {cur.exact_sum(applied)}, {cur.exact_sum(applied)}"
        f" FROM {table} a JOIN invoices i ON i.number = a.invoice_number"
        " WHERE ((a.effective_date >= ? AND a.effective_date <= ?)"
        f" OR (a.reversed_date >= ? AND a.reversed_date <= ?)){narrow}"
        " GROUP BY i.customer, i.currency",
        [last, last, before, before, first, last, first, last, *params],
    ).fetchall()
    for who, currency, at_end, at_start in rows:
        figures = book.at(who, currency)
        net = Decimal(at_end or 0) - Decimal(at_start or 0)
        setattr(figures, name, getattr(figures, name) + net)


def _days_to_pay(cur: Cursor, book: _Book, start: date, end: date, customer: str | None) -> None:
    """Allocations that took effect in the period and still stood at its end, weighted by
    amount: days from invoice date to payment, and days past the due date (0 if on time)."""
    narrow, params = _customer_filter(customer)
    last = end.isoformat()
    rows = cur.execute(
        "SELECT i.customer, i.currency, a.amount, a.effective_date, i.invoice_date, i.due_date"
        " FROM allocations a JOIN invoices i ON i.number = a.invoice_number"
        " WHERE a.effective_date >= ? AND a.effective_date <= ?"
        f" AND (a.reversed_date IS NULL OR a.reversed_date > ?){narrow}",
        [start.isoformat(), last, last, *params],
    ).fetchall()
    for who, currency, amount, paid_on, invoiced_on, due_on in rows:
        figures, value, paid = book.at(who, currency), Decimal(amount), date.fromisoformat(paid_on)
        figures.paid_amount += value
        figures.paid_days += value * (paid - date.fromisoformat(invoiced_on)).days
        figures.late_days += value * max(0, (paid - date.fromisoformat(due_on)).days)
