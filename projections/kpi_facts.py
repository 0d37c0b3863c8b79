"""The facts each KPI is made of, read for a range of days (and, for a drill-down, one
dimension value) with the range and the value applied in SQL, on the indexed UTC days.

A fact is one order's (or one stage stay's, production order's, receivable's) contribution
to a figure: the day that places it in a period, the order's dimensions, a numerator and a
denominator, and its key (the stage, or the currency of a money figure). Time facts count
seconds; the figure divides their sum once (projections/kpi_queries.py `Kpi.scale`).
By product line a fact is read once per product line its order has lines in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from projections.kpi_totals import seconds_between
from projections.store import Cursor

ONE, ZERO = Decimal(1), Decimal(0)


@dataclass(frozen=True)
class Fact:
    number: str
    day: date  # places the fact in a period
    value: str  # the dimension value it counts in (`all` when not split)
    numerator: Decimal
    denominator: Decimal
    key: str | None = None  # the stage (stage_time) or the currency (money figures)


@dataclass(frozen=True)
class Scope:
    """Which facts to read: placed on `start`..`end` (either open), split by `by`, and of
    one dimension value only when `value` is given."""

    start: date | None
    end: date | None
    by: str
    value: str | None
    as_of: date


class _Select:
    """A fact query: its SELECT, joins and conditions, with the scope's filters added (its
    dimension too, unless `dims` is false: a query of the days alone)."""

    def __init__(self, fields: str, source: str, day: str, scope: Scope, order: str = "o",
                 amount: bool = False, dims: bool = True) -> None:  # fmt: skip
        self.scope = scope
        self.params: list[Any] = []
        split = {"region": f"{order}.region", "salesperson": f"{order}.salesperson",
                 "product_line": "l.product_line", "all": "'all'"}[scope.by]  # fmt: skip
        self.sql = f"SELECT {fields}" + (f", {split} AS dim_value" if dims else "")
        if amount:
            self.sql += ", l.amount AS line_amount"
        self.sql += f" FROM {source}"
        if dims and scope.by == "product_line":
            self.sql += f" JOIN kpi_order_lines l ON l.number = {order}.number"
        self.sql += " WHERE 1 = 1"
        for bound, op in ((scope.start, ">="), (scope.end, "<=")):
            if bound is not None:
                self.where(f"{day} {op} ?", bound.isoformat())
        if dims and scope.by != "all":  # an order without a region is in no region's figure
            self.where(f"{split} <> ''")
        if dims and scope.value is not None:
            self.where(f"{split} = ?", scope.value)

    def where(self, condition: str, *params: Any) -> _Select:
        self.sql += f" AND {condition}"
        self.params += params
        return self

    def rows(self, cur: Cursor) -> list[dict[str, Any]]:
        return cur.execute(self.sql, self.params).fetchdicts()


ORDER_FIELDS = (
    "o.number, o.currency, o.total, o.taken_at, o.taken_day, o.promised_date, o.delivered_at,"
    " o.delivered_day, o.complaints"
)


def _delivered(cur: Cursor, scope: Scope) -> list[dict[str, Any]]:
    select = _Select(ORDER_FIELDS, "kpi_orders o", "o.delivered_day", scope)
    return select.where("o.cancelled = 0 AND o.delivered_day IS NOT NULL").rows(cur)


def _day(text: str) -> date:
    return date.fromisoformat(text)


def cycle_time(cur: Cursor, scope: Scope) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["delivered_day"]), r["dim_value"],
             seconds_between(r["taken_at"], r["delivered_at"]), ONE)
        for r in _delivered(cur, scope)
    ]  # fmt: skip


def on_time(cur: Cursor, scope: Scope) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["delivered_day"]), r["dim_value"],
             ONE if r["delivered_day"] <= r["promised_date"] else ZERO, ONE)
        for r in _delivered(cur, scope) if r["promised_date"] is not None
    ]  # fmt: skip


def complaint_rate(cur: Cursor, scope: Scope) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["delivered_day"]), r["dim_value"],
             ONE if r["complaints"] else ZERO, ONE)
        for r in _delivered(cur, scope)
    ]  # fmt: skip


def order_value(cur: Cursor, scope: Scope) -> list[Fact]:
    """By product line, each line's own amount (not the order's total)."""
    split = scope.by == "product_line"
    select = _Select(ORDER_FIELDS, "kpi_orders o", "o.taken_day", scope, amount=split)
    return [
        Fact(r["number"], _day(r["taken_day"]), r["dim_value"],
             Decimal(r["line_amount"] if split else r["total"]), ONE, r["currency"])
        for r in select.where("o.cancelled = 0").rows(cur)
    ]  # fmt: skip


def stage_time(cur: Cursor, scope: Scope) -> list[Fact]:
    select = _Select("s.number, s.stage, s.left_day, s.seconds",
                     "kpi_stage_stays s JOIN kpi_orders o ON o.number = s.number",
                     "s.left_day", scope)  # fmt: skip
    return [
        Fact(r["number"], _day(r["left_day"]), r["dim_value"], Decimal(r["seconds"]), ONE,
             r["stage"])
        for r in select.rows(cur)
    ]  # fmt: skip


def first_pass(cur: Cursor, scope: Scope) -> list[Fact]:
    select = _Select("q.sales_order AS number, q.first_passed, q.checked_day",
                     "kpi_qc q JOIN kpi_orders o ON o.number = q.sales_order",
                     "q.checked_day", scope)  # fmt: skip
    select.where("q.first_passed IS NOT NULL AND o.cancelled = 0")
    return [
        Fact(r["number"], _day(r["checked_day"]), r["dim_value"], Decimal(r["first_passed"]),
             ONE)
        for r in select.rows(cur)
    ]  # fmt: skip


def _receivables(cur: Cursor, scope: Scope) -> list[tuple[dict[str, Any], list[Any]]]:
    """Invoiced receivables of the orders, each with its share of its invoice's payments as
    (amount, date) pieces effective by `as_of` and not reversed by then. (An invoice's total,
    which the shares need, is read only for invoices that were paid something.)"""
    day = scope.as_of.isoformat()
    # The order's dimensions are in the KPI model; not split, the receivables are enough.
    joined = " JOIN kpi_orders o ON o.number = r.order_number" if scope.by != "all" else ""
    source = "receivables r" + joined
    select = _Select(
        "r.order_number AS number, r.total, r.currency, r.invoice_number, r.invoice_date",
        source, "r.invoice_date", scope,
    )  # fmt: skip
    rows = select.where("r.invoice_number IS NOT NULL AND r.invoice_date <= ?", day).rows(cur)
    # The payments of the invoices invoiced on those days (of every dimension value: a
    # superset of the receivables read), in one read.
    invoiced = _Select("r.invoice_number", "receivables r", "r.invoice_date", scope, dims=False)
    invoiced.where("r.invoice_number IS NOT NULL AND r.invoice_date <= ?", day)
    cur.execute(
        "SELECT a.invoice_number, a.amount, a.effective_date, i.total FROM allocations a"
        " JOIN invoices i ON i.number = a.invoice_number"
        f" WHERE a.invoice_number IN ({invoiced.sql})"
        " AND a.effective_date <= ? AND (a.reversed_date IS NULL OR a.reversed_date > ?)",
        [*invoiced.params, day, day],
    )
    paid: dict[str, list[tuple[Decimal, date]]] = {}
    totals: dict[str, Decimal] = {}
    for number, amount, effective, total in cur.fetchall():
        paid.setdefault(number, []).append((Decimal(amount), date.fromisoformat(effective)))
        totals[number] = Decimal(total)
    found = []
    for r in rows:
        pieces = paid.get(r["invoice_number"], [])
        if pieces:
            share = Decimal(r["total"]) / totals[r["invoice_number"]]
            pieces = [(amount * share, day) for amount, day in pieces]
        found.append((r, pieces))
    return found


Receivable = tuple[str, date, str, str, Decimal, Decimal, Decimal]


def receivable_sums(cur: Cursor, scope: Scope) -> Iterator[Receivable]:
    """Per invoiced receivable: its order, invoice date, dimension value and currency, what
    was collected of it by `as_of`, its total, and Σ amount × days outstanding (each payment
    piece to its date, what is still open to `as_of`): collection rate and DSO facts both."""
    for r, pieces in _receivables(cur, scope):
        invoiced = date.fromisoformat(r["invoice_date"])
        total = Decimal(r["total"])
        paid = sum((amount for amount, _ in pieces), ZERO)
        weighted = sum(((day - invoiced).days * amount for amount, day in pieces), ZERO)
        weighted += (scope.as_of - invoiced).days * (total - paid)
        yield r["number"], invoiced, r["dim_value"], r["currency"], paid, total, weighted


def collection_rate(cur: Cursor, scope: Scope) -> list[Fact]:
    return [
        Fact(number, day, value, paid, total, key)
        for number, day, value, key, paid, total, _ in receivable_sums(cur, scope)
    ]


def dso(cur: Cursor, scope: Scope) -> list[Fact]:
    return [
        Fact(number, day, value, weighted, total, key)
        for number, day, value, key, _, total, weighted in receivable_sums(cur, scope)
    ]
