"""Period totals of the KPIs the `kpis` read model alone decides, kept as its facts change.

`kpi_totals` holds, per KPI × period kind (day, week, month) × period × dimension value
(× stage or currency), the sums a figure is made of: Σ numerator, Σ denominator and the
number of orders with a fact in it — exactly what folding the facts of that period would
give (projections/kpi_queries.py), so a dashboard reads a year of figures in a few rows.
Collection rate and DSO are not kept: they depend on `as_of` and on the receivables model.

A fact is counted in one period of each kind and in every dimension value of its order:
`all`, its region, its salesperson and each of its product lines. The orders count is
exact because changes are made order by order: when an event changes an order's facts,
the order's contribution to each group before the event is taken off and the one after it
added, and an order contributes 1 to the count of every group it has a fact in. Stage
stays (many per order) are added one by one: the count grows only for a group in which
the order had no stay of that stage yet; the order's stays summed by stage and day live in
`kpi_orders.stays`, since the stays ledger is never read back.

Time figures are summed in seconds (divided by 86,400 or 3,600 when read) and every sum is
kept to six decimal places, which holds microseconds and every currency's minor unit.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from projections.store import Cursor

PERIODS = ("day", "week", "month")
TOTALLED = (
    "order_value", "cycle_time", "on_time_rate", "complaint_rate", "stage_time",
    "first_pass_yield",
)  # fmt: skip
ORDER_KPIS = ("order_value", "cycle_time", "on_time_rate", "complaint_rate")
PLACES = Decimal("0.000001")
COLUMNS = [
    "id", "kpi", "period", "dimension", "period_start", "value", "key", "numerator",
    "denominator", "orders",
]  # fmt: skip
ONE, ZERO = Decimal(1), Decimal(0)

Group = tuple[str, str, str, str, str, str]  # kpi, period, dimension, period start, value, key
Sums = dict[Group, list[Any]]  # group -> [numerator, denominator, orders]


@functools.lru_cache(maxsize=8192)
def bucket(day: str, period: str) -> str:
    """The start of the period a UTC day falls in (weeks begin on Monday)."""
    if period == "day":
        return day
    if period == "month":
        return day[:8] + "01"
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def utc_day(moment: Any) -> str | None:
    """The UTC calendar day of a business time (PostgreSQL: a datetime, SQLite: ISO text)."""
    if moment is None:
        return None
    found = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    return (found.astimezone(UTC) if found.tzinfo else found).date().isoformat()


def seconds_between(earlier: Any, later: Any) -> Decimal:
    """`later − earlier` in seconds, exactly (to the microsecond)."""
    span = _moment(later) - _moment(earlier)
    whole = span.days * 86400 + span.seconds
    return Decimal(whole) + Decimal(span.microseconds).scaleb(-6)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def dimensions(order: dict[str, Any], lines: Iterable[str]) -> list[tuple[str, str]]:
    """Every dimension value a fact of the order counts in: all, its region and salesperson,
    and each of the product lines given."""
    found = [("region", order["region"]), ("salesperson", order["salesperson"])]
    found += [("product_line", line) for line in lines]
    return [("all", "all"), *((name, value) for name, value in found if value)]


class Contribution:
    """One order's (or one page's) sums per group."""

    def __init__(self) -> None:
        self.sums: Sums = {}

    def fact(self, kpi: str, day: str, key: str, numerator: Decimal, denominator: Decimal,
             dims: list[tuple[str, str]]) -> None:  # fmt: skip
        for period in PERIODS:
            begins = bucket(day, period)
            for dimension, value in dims:
                found = self.sums.setdefault((kpi, period, dimension, begins, value, key),
                                             [ZERO, ZERO, 1])  # fmt: skip
                found[0] += numerator
                found[1] += denominator

    def merge(self, other: Contribution, sign: int) -> None:
        for group, (numerator, denominator, orders) in other.sums.items():
            found = self.sums.setdefault(group, [ZERO, ZERO, 0])
            found[0] += sign * numerator
            found[1] += sign * denominator
            found[2] += sign * orders

    def change(self, before: Contribution, after: Contribution) -> None:
        """Add `after − before`, skipping the groups both hold alike (most of them)."""
        for group, sums in after.sums.items():
            old = before.sums.get(group)
            if old == sums:
                continue
            found = self.sums.setdefault(group, [ZERO, ZERO, 0])
            for k in range(3):
                found[k] += sums[k] - (old[k] if old else 0)
        for group, old in before.sums.items():
            if group not in after.sums:
                found = self.sums.setdefault(group, [ZERO, ZERO, 0])
                for k in range(3):
                    found[k] -= old[k]


def order_facts(order: dict[str, Any] | None, lines: dict[str, Decimal],
                delivered_only: bool = False) -> Contribution:  # fmt: skip
    """Order value, cycle time, on-time and complaint facts of an order (none if cancelled);
    `delivered_only`: not its value (what a delivery or a complaint cannot change)."""
    made = Contribution()
    if order is None or order["cancelled"]:
        return made
    if not delivered_only:
        _value_facts(made, order, lines)
    day = order["delivered_day"]
    if day is None:
        return made
    dims = dimensions(order, sorted(lines))
    lead = seconds_between(order["taken_at"], order["delivered_at"])
    made.fact("cycle_time", day, "", lead, ONE, dims)
    made.fact("complaint_rate", day, "", ONE if order["complaints"] else ZERO, ONE, dims)
    if order["promised_date"] is not None:
        on_time = ONE if day <= order["promised_date"] else ZERO
        made.fact("on_time_rate", day, "", on_time, ONE, dims)
    return made


def _value_facts(made: Contribution, order: dict[str, Any], lines: dict[str, Decimal]) -> None:
    dims = dimensions(order, ())
    value = Decimal(order["total"])
    made.fact("order_value", order["taken_day"], order["currency"], value, ONE, dims)
    for line, amount in sorted(lines.items()):
        if line:
            made.fact("order_value", order["taken_day"], order["currency"], amount, ONE,
                      [("product_line", line)])  # fmt: skip


def stay_facts(order: dict[str, Any] | None, lines: dict[str, Decimal]) -> Contribution:
    """Every ended stay of the order, from its stays summed by stage and day (`stays`: the
    stored JSON, as a list)."""
    made = Contribution()
    if order is None:
        return made
    dims = dimensions(order, sorted(lines))
    for stage, day, seconds, count in order["stays"]:
        made.fact("stage_time", day, stage, Decimal(seconds), Decimal(count), dims)
    return made


def qc_facts(order: dict[str, Any] | None, lines: dict[str, Decimal],
             checks: Sequence[dict[str, Any]]) -> Contribution:  # fmt: skip
    """The first quality checks of production made for the order (none if cancelled)."""
    made = Contribution()
    if order is None or order["cancelled"]:
        return made
    dims = dimensions(order, sorted(lines))
    for check in checks:
        if check["first_passed"] is not None:
            made.fact("first_pass_yield", check["checked_day"], "",
                      Decimal(check["first_passed"]), ONE, dims)  # fmt: skip
    return made


def add_stay(changes: Contribution, order: dict[str, Any], lines: dict[str, Decimal],
             stage: str, day: str, seconds: Decimal) -> None:  # fmt: skip
    """One more ended stay: its sums, and the order counted where it had no such stay yet;
    then the order's own stays by stage and day (a list, changed in place)."""
    stays = order["stays"]
    had = {(p, bucket(d, p)) for s, d, _, _ in stays if s == stage for p in PERIODS}
    dims = dimensions(order, sorted(lines))
    for period in PERIODS:
        begins = bucket(day, period)
        new = 0 if (period, begins) in had else 1
        for dimension, value in dims:
            group = ("stage_time", period, dimension, begins, value, stage)
            found = changes.sums.setdefault(group, [ZERO, ZERO, 0])
            found[0] += seconds
            found[1] += ONE
            found[2] += new
    for entry in stays:
        if entry[0] == stage and entry[1] == day:
            entry[2] = str(Decimal(entry[2]) + seconds)
            entry[3] += 1
            break
    else:
        stays.append([stage, day, str(seconds), 1])


def group_id(group: Group) -> str:
    return json.dumps(group, separators=(",", ":"))


def write(cur: Cursor, table: str, changes: Contribution) -> None:
    """Add a page's changes to the stored totals; a group no order has a fact in goes."""
    moved = {group_id(g): (g, s) for g, s in changes.sums.items() if any(s)}
    if not moved:
        return
    stored: dict[str, dict[str, Any]] = {}
    ids = sorted(moved)
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        cur.execute(f"SELECT id, numerator, denominator, orders FROM {table}"
                    f" WHERE id IN ({','.join('?' * len(chunk))})", chunk)  # fmt: skip
        stored.update({row["id"]: row for row in cur.fetchdicts()})
    rows, gone = [], []
    for key in ids:
        group, (numerator, denominator, orders) = moved[key]
        before = stored.get(key)
        if before is not None:
            numerator += Decimal(before["numerator"])
            denominator += Decimal(before["denominator"])
            orders += int(before["orders"])
        if orders <= 0:
            gone.append(key)
            continue
        rows.append((key, *group, numerator.quantize(PLACES), denominator.quantize(PLACES),
                     orders))  # fmt: skip
    for first in range(0, len(gone), 500):
        chunk = gone[first : first + 500]
        cur.execute(f"DELETE FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    cur.upsert_rows(table, COLUMNS, "id", rows)
