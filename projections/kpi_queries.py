"""KPI figures by period and dimension, and the orders behind each (docs/kpis.md).

Every KPI is first a list of facts — one per order (or per stage stay, production order,
receivable) — each with the date that places it in a period, the order's dimensions, a
numerator and a denominator. A figure is the facts of one period × dimension value folded
together; its drill-down is the order numbers of exactly those facts, so the two can never
disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput
from projections.store import Cursor

PERIODS = ("day", "week", "month")
DIMENSIONS = ("all", "region", "salesperson", "product_line")
ONE = Decimal(1)


@dataclass(frozen=True)
class Fact:
    number: str
    day: date  # places the fact in a period
    dims: dict[str, str]  # region, salesperson, product_line (see `_with_lines`)
    numerator: Decimal
    denominator: Decimal
    key: str | None = None  # the stage (stage_time) or the currency (money figures)


@dataclass(frozen=True)
class Kpi:
    unit: str
    average: bool  # figure = numerator / denominator, else the numerator's sum
    facts: Callable[[Cursor, date], list[Fact]]
    places: Decimal


def kpi_figures(
    cur: Cursor, kpi: str, *, period: str, by: str, start: date | None, end: date | None,
    as_of: date,
) -> list[dict[str, Any]]:  # fmt: skip
    """One row per period × dimension value (× stage or currency), oldest period first."""
    spec, facts = _facts(cur, kpi, period, by, start, end, as_of)
    groups: dict[tuple[date, str, str | None], list[Fact]] = {}
    for fact in facts:
        for value in _values(fact, by):
            groups.setdefault((period_start(fact.day, period), value, fact.key), []).append(fact)
    rows = []
    for (begins, value, key), members in sorted(groups.items(), key=_order):
        numerator = sum((f.numerator for f in members), Decimal(0))
        denominator = sum((f.denominator for f in members), Decimal(0))
        figure = numerator / denominator if spec.average and denominator else numerator
        rows.append({
            "period_start": begins, "by": by, "value": value, "key": key,
            "figure": figure.quantize(spec.places), "unit": spec.unit,
            "numerator": numerator, "denominator": denominator,
            "orders": len({f.number for f in members}),
        })  # fmt: skip
    return rows


def kpi_orders(
    cur: Cursor, kpi: str, *, period: str, period_start_: date, by: str, value: str,
    key: str | None, as_of: date,
) -> list[str]:  # fmt: skip
    """The order numbers behind one figure: the facts of that period and dimension value."""
    if period in PERIODS and period_start(period_start_, period) != period_start_:
        raise InvalidInput(
            f"period_start {period_start_} does not begin a {period}"
            f" (a {period} begins {period_start(period_start_, period)})",
            rule="period-start",
        )
    end = period_end(period_start_, period)
    _, facts = _facts(cur, kpi, period, by, period_start_, end, as_of)
    return sorted({
        f.number for f in facts
        if period_start(f.day, period) == period_start_ and value in _values(f, by)
        and (key is None or f.key == key)
    })  # fmt: skip


def order_details(cur: Cursor, numbers: list[str]) -> list[dict[str, Any]]:
    """What the KPI read model knows of these orders, in the order given."""
    found: dict[str, dict[str, Any]] = {}
    for first in range(0, len(numbers), 500):
        chunk = numbers[first : first + 500]
        cur.execute(
            "SELECT number, customer, region, salesperson, currency, total, taken_at,"
            " promised_date, delivered_at, cancelled, stage FROM kpi_orders"
            f" WHERE number IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for row in cur.fetchdicts():
            found[row["number"]] = {**row, "total": Decimal(row["total"])}
    return [found[n] for n in numbers if n in found]


def period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(begins: date, period: str) -> date:
    if period == "day":
        return begins
    if period == "week":
        return begins + timedelta(days=6)
    following = (begins.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _order(item: tuple[tuple[date, str, str | None], list[Fact]]) -> tuple[date, str, str]:
    (begins, value, key), _ = item
    return begins, value, key or ""


def _facts(
    cur: Cursor, kpi: str, period: str, by: str, start: date | None, end: date | None,
    as_of: date,
) -> tuple[Kpi, list[Fact]]:  # fmt: skip
    if kpi not in KPIS:
        raise InvalidInput(f"unknown kpi {kpi!r}; KPIs are {', '.join(KPIS)}", rule="unknown-kpi")
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if by not in DIMENSIONS:
        raise InvalidInput(f"by must be one of {', '.join(DIMENSIONS)}, got {by!r}")
    spec = KPIS[kpi]
    facts = [
        f for f in spec.facts(cur, as_of)
        if (start is None or f.day >= start) and (end is None or f.day <= end)
    ]  # fmt: skip
    if by == "product_line" and kpi == "order_value":
        facts = _split_by_line(cur, facts)
    elif by == "product_line":
        facts = _with_lines(cur, facts)
    return spec, facts


def _values(fact: Fact, by: str) -> Iterable[str]:
    if by == "all":
        return ("all",)
    found = fact.dims.get(by)
    return found.split("\x1f") if found else ()


# -- facts -----------------------------------------------------------------------------------


def _orders(cur: Cursor, where: str) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT number, region, salesperson, currency, total, taken_at, promised_date,"
        f" delivered_at FROM kpi_orders WHERE cancelled = 0 AND {where}"
    )
    return cur.fetchdicts()


def _dims(row: dict[str, Any]) -> dict[str, str]:
    return {"region": row["region"], "salesperson": row["salesperson"]}


def _cycle_time(cur: Cursor, as_of: date) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["delivered_at"]), _dims(r),
             _days(_dt(r["delivered_at"]) - _dt(r["taken_at"])), ONE)
        for r in _orders(cur, "delivered_at IS NOT NULL")
    ]  # fmt: skip


def _on_time(cur: Cursor, as_of: date) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["delivered_at"]), _dims(r),
             ONE if _day(r["delivered_at"]) <= date.fromisoformat(r["promised_date"]) else
             Decimal(0), ONE)
        for r in _orders(cur, "delivered_at IS NOT NULL AND promised_date IS NOT NULL")
    ]  # fmt: skip


def _complaint_rate(cur: Cursor, as_of: date) -> list[Fact]:
    cur.execute("SELECT DISTINCT number FROM kpi_complaints")
    complained = {row[0] for row in cur.fetchall()}
    return [
        Fact(r["number"], _day(r["delivered_at"]), _dims(r),
             ONE if r["number"] in complained else Decimal(0), ONE)
        for r in _orders(cur, "delivered_at IS NOT NULL")
    ]  # fmt: skip


def _order_value(cur: Cursor, as_of: date) -> list[Fact]:
    return [
        Fact(r["number"], _day(r["taken_at"]), _dims(r), Decimal(r["total"]), ONE,
             r["currency"])
        for r in _orders(cur, "1 = 1")
    ]  # fmt: skip


def _stage_time(cur: Cursor, as_of: date) -> list[Fact]:
    cur.execute(
        "SELECT s.number, s.stage, s.left_at, s.seconds, o.region, o.salesperson"
        " FROM kpi_stage_stays s JOIN kpi_orders o ON o.number = s.number"
    )
    return [
        Fact(r["number"], _day(r["left_at"]), _dims(r), Decimal(r["seconds"]) / 3600, ONE,
             r["stage"])
        for r in cur.fetchdicts()
    ]  # fmt: skip


def _first_pass(cur: Cursor, as_of: date) -> list[Fact]:
    cur.execute(
        "SELECT q.sales_order AS number, q.first_passed, q.checked_at, o.region, o.salesperson"
        " FROM kpi_qc q JOIN kpi_orders o ON o.number = q.sales_order"
        " WHERE q.first_passed IS NOT NULL AND o.cancelled = 0"
    )
    return [
        Fact(r["number"], _day(r["checked_at"]), _dims(r), Decimal(r["first_passed"]), ONE)
        for r in cur.fetchdicts()
    ]  # fmt: skip


def _receivables(cur: Cursor, as_of: date) -> list[tuple[dict[str, Any], list[Any]]]:
    """Invoiced receivables of the orders, each with its share of its invoice's payments as
    (amount, date) pieces effective by `as_of` and not reversed by then."""
    cur.execute(
        "SELECT r.order_number AS number, r.total, r.currency, r.invoice_number,"
        " r.invoice_date, i.total AS invoice_total, o.region, o.salesperson"
        " FROM receivables r JOIN invoices i ON i.number = r.invoice_number"
        " JOIN kpi_orders o ON o.number = r.order_number"
        " WHERE r.invoice_number IS NOT NULL AND r.invoice_date <= ?",
        (as_of.isoformat(),),
    )
    rows = cur.fetchdicts()
    cur.execute(
        "SELECT invoice_number, amount, effective_date FROM allocations"
        " WHERE effective_date <= ? AND (reversed_date IS NULL OR reversed_date > ?)",
        (as_of.isoformat(), as_of.isoformat()),
    )
    paid: dict[str, list[tuple[Decimal, date]]] = {}
    for a in cur.fetchdicts():
        paid.setdefault(a["invoice_number"], []).append(
            (Decimal(a["amount"]), date.fromisoformat(a["effective_date"]))
        )
    found = []
    for r in rows:
        share = Decimal(r["total"]) / Decimal(r["invoice_total"])
        found.append(
            (r, [(amount * share, day) for amount, day in paid.get(r["invoice_number"], [])])
        )
    return found


def _collection_rate(cur: Cursor, as_of: date) -> list[Fact]:
    return [
        Fact(r["number"], date.fromisoformat(r["invoice_date"]), _dims(r),
             sum((amount for amount, _ in pieces), Decimal(0)), Decimal(r["total"]),
             r["currency"])
        for r, pieces in _receivables(cur, as_of)
    ]  # fmt: skip


def _dso(cur: Cursor, as_of: date) -> list[Fact]:
    facts = []
    for r, pieces in _receivables(cur, as_of):
        invoiced = date.fromisoformat(r["invoice_date"])
        total = Decimal(r["total"])
        open_amount = total - sum((amount for amount, _ in pieces), Decimal(0))
        weighted = sum(((day - invoiced).days * amount for amount, day in pieces), Decimal(0))
        weighted += (as_of - invoiced).days * open_amount
        facts.append(Fact(r["number"], invoiced, _dims(r), weighted, total, r["currency"]))
    return facts


def _with_lines(cur: Cursor, facts: list[Fact]) -> list[Fact]:
    """Each fact counted in every product line its order has lines in."""
    lines = _lines(cur)
    joined = {number: "\x1f".join(sorted(found)) for number, found in lines.items()}
    return [
        Fact(f.number, f.day, {**f.dims, "product_line": joined.get(f.number, "")},
             f.numerator, f.denominator, f.key)
        for f in facts
    ]  # fmt: skip


def _split_by_line(cur: Cursor, facts: list[Fact]) -> list[Fact]:
    """Order value by product line: each line's own amount, not the order's total."""
    lines = _lines(cur)
    return [
        Fact(f.number, f.day, {**f.dims, "product_line": line}, amount, ONE, f.key)
        for f in facts
        for line, amount in sorted(lines.get(f.number, {}).items())
    ]


def _lines(cur: Cursor) -> dict[str, dict[str, Decimal]]:
    cur.execute("SELECT number, product_line, amount FROM kpi_order_lines")
    found: dict[str, dict[str, Decimal]] = {}
    for number, line, amount in cur.fetchall():
        found.setdefault(number, {})[line] = Decimal(amount)
    return found


def _dt(value: Any) -> datetime:
    """PostgreSQL returns datetimes, SQLite ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _day(value: Any) -> date:
    """The UTC calendar day of a business time: periods are cut in UTC."""
    moment = _dt(value)
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _days(span: timedelta) -> Decimal:
    return Decimal(str(span.total_seconds())) / 86400


KPIS: dict[str, Kpi] = {
    "cycle_time": Kpi("days", True, _cycle_time, Decimal("0.01")),
    "on_time_rate": Kpi("ratio", True, _on_time, Decimal("0.0001")),
    "stage_time": Kpi("hours", True, _stage_time, Decimal("0.01")),
    "first_pass_yield": Kpi("ratio", True, _first_pass, Decimal("0.0001")),
    "complaint_rate": Kpi("ratio", True, _complaint_rate, Decimal("0.0001")),
    "order_value": Kpi("money", False, _order_value, Decimal("0.01")),
    "collection_rate": Kpi("ratio", True, _collection_rate, Decimal("0.0001")),
    "dso": Kpi("days", True, _dso, Decimal("0.01")),
}
