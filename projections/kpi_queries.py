"""KPI figures by period and dimension, and the orders behind each (docs/kpis.md).

Every KPI is first a list of facts (projections/kpi_facts.py) — one per order (or per stage
stay, production order, receivable) — each with the date that places it in a period, its
dimension value, a numerator and a denominator. A figure is the facts of one period ×
dimension value folded together; its drill-down is the order numbers of exactly those
facts, so the two can never disagree.

The KPIs the `kpis` read model alone decides keep their whole periods' sums in `kpi_totals`
as the facts change (projections/kpi_totals.py): a whole period's figure is read there, and
only a period the range cuts short (`from` or `to` inside it) is folded from its facts.
Collection rate and DSO, which depend on `as_of`, are always folded, over the range's days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput
from projections import kpi_facts
from projections.kpi_facts import Fact, Scope
from projections.kpi_totals import TOTALLED
from projections.store import Cursor

PERIODS = ("day", "week", "month")
DIMENSIONS = ("all", "region", "salesperson", "product_line")
RECEIVABLE_KPIS = ("collection_rate", "dso")


@dataclass(frozen=True)
class Kpi:
    unit: str
    average: bool  # figure = numerator / denominator, else the numerator's sum
    facts: Callable[[Cursor, Scope], list[Fact]]
    places: Decimal
    scale: int = 1  # time facts count seconds: the numerator is their sum / scale


Row = dict[str, Any]


def kpi_figures(
    cur: Cursor, kpi: str, *, period: str, by: str, start: date | None, end: date | None,
    as_of: date,
) -> list[Row]:  # fmt: skip
    """One row per period × dimension value (× stage or currency), oldest period first."""
    spec = _spec(kpi, period, by)
    if kpi not in TOTALLED:
        return fold(cur, kpi, period=period, by=by, start=start, end=end, as_of=as_of)
    whole, cut = _pieces(start, end, period)
    rows = [] if whole is None else _totals(cur, spec, kpi, period, by, *whole)
    for first, last in cut:
        rows += _fold(spec, kpi_facts_of(cur, kpi, first, last, by, None, as_of), period, by)
    return _sorted(rows)


Bound = date | None


def _pieces(
    start: Bound, end: Bound, period: str
) -> tuple[tuple[Bound, Bound] | None, list[tuple[date, date]]]:
    """The range as the whole periods in it (None: not one), and the stretches of the
    periods it cuts short at either end (one, if both ends are in the same period)."""
    cut: list[tuple[date, date]] = []
    whole_from, whole_to = start, end
    if start is not None and period_start(start, period) != start:
        last = period_end(period_start(start, period), period)
        whole_from = last + timedelta(days=1)
        cut.append((start, last if end is None else min(end, last)))
    if end is not None and period_end(period_start(end, period), period) != end:
        first = period_start(end, period)
        whole_to = first - timedelta(days=1)
        stretch = (first if start is None else max(start, first), end)
        if stretch not in cut:
            cut.append(stretch)
    if whole_from is not None and whole_to is not None and whole_from > whole_to:
        return None, cut
    return (whole_from, whole_to), cut


def kpi_figures_of(
    cur: Cursor, kpis: Sequence[str], *, period: str, by: str, start: date | None,
    end: date | None, as_of: date,
) -> dict[str, list[Row]]:  # fmt: skip
    """Several KPIs' figures over the same range, as `kpi_figures` answers each; collection
    rate and DSO, made of the same receivables, are folded together in one pass."""
    found = {}
    if set(RECEIVABLE_KPIS) <= set(kpis):
        _spec("dso", period, by)
        found = _receivable_figures(cur, Scope(start, end, by, None, as_of), period, by)
    for kpi in kpis:
        if kpi not in found:
            found[kpi] = kpi_figures(cur, kpi, period=period, by=by, start=start, end=end,
                                     as_of=as_of)  # fmt: skip
    return {kpi: found[kpi] for kpi in kpis}


def _receivable_figures(cur: Cursor, scope: Scope, period: str, by: str) -> dict[str, list[Row]]:
    """Collection rate and DSO from one read of the receivables: the same sums, in the same
    order, as folding each KPI's facts."""
    groups: dict[tuple[date, str, str], list[Any]] = {}
    starts: dict[date, date] = {}
    for number, day, value, key, paid, total, weighted in kpi_facts.receivable_sums(cur, scope):
        begins = starts.get(day) or starts.setdefault(day, period_start(day, period))
        sums = groups.setdefault((begins, value, key), [Decimal(0), Decimal(0), Decimal(0), set()])
        sums[0] += paid
        sums[1] += total
        sums[2] += weighted
        sums[3].add(number)
    made: dict[str, list[Row]] = {"collection_rate": [], "dso": []}
    for (begins, value, key), (paid, total, weighted, numbers) in groups.items():
        for kpi, numerator in (("collection_rate", paid), ("dso", weighted)):
            made[kpi].append(_row(KPIS[kpi], begins, by, value, key, numerator, total,
                                  len(numbers)))  # fmt: skip
    return {kpi: _sorted(rows) for kpi, rows in made.items()}


def kpi_orders(
    cur: Cursor, kpi: str, *, period: str, period_start_: date, by: str, value: str,
    key: str | None, as_of: date,
) -> list[str]:  # fmt: skip
    """The order numbers behind one figure: the facts of that period and dimension value."""
    _spec(kpi, period, by)
    if period_start(period_start_, period) != period_start_:
        raise InvalidInput(
            f"period_start {period_start_} does not begin a {period}"
            f" (a {period} begins {period_start(period_start_, period)})",
            rule="period-start",
        )
    end = period_end(period_start_, period)
    facts = kpi_facts_of(cur, kpi, period_start_, end, by, value, as_of)
    return sorted({f.number for f in facts if key is None or f.key == key})


def kpi_facts_of(cur: Cursor, kpi: str, start: date | None, end: date | None, by: str,
                 value: str | None, as_of: date) -> list[Fact]:  # fmt: skip
    """The facts of a KPI on the days `start`..`end`, of one dimension value if given."""
    return KPIS[kpi].facts(cur, Scope(start, end, by, value, as_of))


def fold(cur: Cursor, kpi: str, *, period: str, by: str, start: date | None,
         end: date | None, as_of: date) -> list[Row]:  # fmt: skip
    """The figures folded from the facts alone, never from the totals (what the totals
    must always equal)."""
    spec = _spec(kpi, period, by)
    if kpi in RECEIVABLE_KPIS:  # the facts folded in one pass, as kpi_figures_of does
        return _receivable_figures(cur, Scope(start, end, by, None, as_of), period, by)[kpi]
    return _sorted(_fold(spec, kpi_facts_of(cur, kpi, start, end, by, None, as_of), period, by))


def order_details(cur: Cursor, numbers: list[str]) -> list[Row]:
    """What the KPI read model knows of these orders, in the order given."""
    found: dict[str, Row] = {}
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


def _spec(kpi: str, period: str, by: str) -> Kpi:
    if kpi not in KPIS:
        raise InvalidInput(f"unknown kpi {kpi!r}; KPIs are {', '.join(KPIS)}", rule="unknown-kpi")
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if by not in DIMENSIONS:
        raise InvalidInput(f"by must be one of {', '.join(DIMENSIONS)}, got {by!r}")
    return KPIS[kpi]


def _row(spec: Kpi, begins: date, by: str, value: str, key: str | None, numerator: Decimal,
         denominator: Decimal, orders: int) -> Row:  # fmt: skip
    """`numerator` in the facts' own unit (seconds for time KPIs): answered in the KPI's."""
    figure = numerator / (denominator * spec.scale) if spec.average and denominator else numerator
    if spec.scale != 1:
        numerator /= spec.scale
    return {
        "period_start": begins, "by": by, "value": value, "key": key,
        "figure": figure.quantize(spec.places), "unit": spec.unit,
        "numerator": numerator, "denominator": denominator, "orders": orders,
    }  # fmt: skip


def _fold(spec: Kpi, facts: list[Fact], period: str, by: str) -> list[Row]:
    groups: dict[tuple[date, str, str | None], list[Fact]] = {}
    for fact in facts:
        groups.setdefault((period_start(fact.day, period), fact.value, fact.key), []).append(fact)
    return [
        _row(spec, begins, by, value, key, sum((f.numerator for f in members), Decimal(0)),
             sum((f.denominator for f in members), Decimal(0)),
             len({f.number for f in members}))
        for (begins, value, key), members in groups.items()
    ]  # fmt: skip


def _totals(cur: Cursor, spec: Kpi, kpi: str, period: str, by: str, start: date | None,
            end: date | None) -> list[Row]:  # fmt: skip
    sql = (
        "SELECT period_start, value, key, numerator, denominator, orders FROM kpi_totals"
        " WHERE kpi = ? AND period = ? AND dimension = ?"
    )
    params: list[Any] = [kpi, period, by]
    for bound, op in ((start, ">="), (end, "<=")):
        if bound is not None:
            sql += f" AND period_start {op} ?"
            params.append(bound.isoformat())
    return [
        _row(spec, date.fromisoformat(r["period_start"]), by, r["value"], r["key"] or None,
             Decimal(r["numerator"]), Decimal(r["denominator"]), int(r["orders"]))
        for r in cur.execute(sql, params).fetchdicts()
    ]  # fmt: skip


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r["period_start"], r["value"], r["key"] or ""))


KPIS: dict[str, Kpi] = {
    "cycle_time": Kpi("days", True, kpi_facts.cycle_time, Decimal("0.01"), 86400),
    "on_time_rate": Kpi("ratio", True, kpi_facts.on_time, Decimal("0.0001")),
    "stage_time": Kpi("hours", True, kpi_facts.stage_time, Decimal("0.01"), 3600),
    "first_pass_yield": Kpi("ratio", True, kpi_facts.first_pass, Decimal("0.0001")),
    "complaint_rate": Kpi("ratio", True, kpi_facts.complaint_rate, Decimal("0.0001")),
    "order_value": Kpi("money", False, kpi_facts.order_value, Decimal("0.01")),
    "collection_rate": Kpi("ratio", True, kpi_facts.collection_rate, Decimal("0.0001")),
    "dso": Kpi("days", True, kpi_facts.dso, Decimal("0.01")),
}
