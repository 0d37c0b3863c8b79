"""KPI read model: per sales order, the dated facts the decision KPIs are computed from.

`kpi_orders` has one row per order: who and where (customer, region, salesperson), its value
and currency, when it was taken, its promised date, when it was delivered in full, whether
it was cancelled and how many complaints it has had (the days of those times in UTC beside
them, since periods are cut on the UTC day). `kpi_order_lines` splits the order's value by
product line (the SKU's family prefix, see `product_line`). `kpi_stage_stays` holds every
stay of an order in a workflow stage that has ended, timed on business time (effective
dates). `kpi_qc` holds the first quality check of each production order made for a sales
order, and `kpi_complaints` every complaint. Invoice and payment facts are not copied: the
KPI queries read them from the receivables read model (projections/kpi_queries.py).
`kpi_totals` keeps every period's sums as the facts change (projections/kpi_totals.py), so
a year of figures is a few rows. docs/kpis.md defines every figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.production import ProductionOrder
from domain.sales_orders import SalesOrder, line_amount
from projections import kpi_totals as totals
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

ORDER_COLUMNS = [
    "order_id", "number", "customer", "region", "salesperson", "currency", "total",
    "taken_at", "taken_day", "promised_date", "delivered_at", "delivered_day", "cancelled",
    "complaints", "stage", "stage_entered_at", "stays",
]  # fmt: skip
STAY_COLUMNS = ["position", "number", "stage", "entered_at", "left_at", "left_day", "seconds"]
QC_COLUMNS = [
    "production_id", "production_number", "sales_order", "first_passed", "checked_at",
    "checked_day",
]  # fmt: skip
COMPLAINT_COLUMNS = ["complaint_id", "number", "category", "complained_at"]
LINE_COLUMNS = ["number", "product_line", "amount"]


def product_line(sku: str) -> str:
    """A SKU's product line: its family prefix, the part before the first '-' (BRK-1042 →
    BRK); a SKU without one is a line of its own. The product master has no line attribute."""
    return sku.split("-", 1)[0]


class KpisProjection(Projection):
    """Per-order KPI facts (`kpi_*` tables) and their period totals (`kpi_totals`)."""

    name = "kpis"
    event_classes = (
        *events_of(
            SalesOrder, "Created", "Amended", "StageChanged", "DeliveryConfirmed", "Cancelled",
            "ComplaintRecorded",
        ),
        *events_of(ProductionOrder, "Scheduled", "QcRecorded"),
    )  # fmt: skip
    tables = {
        "kpi_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " order_id TEXT PRIMARY KEY, number TEXT NOT NULL, customer TEXT NOT NULL,"
            " region TEXT NOT NULL,"
            " salesperson TEXT NOT NULL, currency TEXT NOT NULL, total {dec} NOT NULL,"
            " taken_at {ts} NOT NULL, taken_day TEXT NOT NULL, promised_date TEXT,"
            " delivered_at {ts}, delivered_day TEXT, cancelled INTEGER NOT NULL,"
            " complaints INTEGER NOT NULL, stage TEXT NOT NULL, stage_entered_at {ts} NOT NULL,"
            " stays TEXT NOT NULL)"
        ),
        "kpi_order_lines": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT NOT NULL, product_line TEXT NOT NULL, amount {dec} NOT NULL,"
            " PRIMARY KEY (number, product_line))"
        ),
        "kpi_stage_stays": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " position {bigint} PRIMARY KEY, number TEXT NOT NULL, stage TEXT NOT NULL,"
            " entered_at {ts} NOT NULL, left_at {ts} NOT NULL, left_day TEXT NOT NULL,"
            " seconds {dec} NOT NULL)"
        ),
        "kpi_qc": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " production_id TEXT PRIMARY KEY, production_number TEXT NOT NULL,"
            " sales_order TEXT NOT NULL,"
            " first_passed INTEGER, checked_at {ts}, checked_day TEXT)"
        ),
        "kpi_complaints": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " complaint_id TEXT PRIMARY KEY, number TEXT NOT NULL, category TEXT NOT NULL,"
            " complained_at {ts} NOT NULL)"
        ),
        "kpi_totals": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " id TEXT PRIMARY KEY, kpi TEXT NOT NULL, period TEXT NOT NULL,"
            " dimension TEXT NOT NULL, period_start TEXT NOT NULL, value TEXT NOT NULL,"
            " key TEXT NOT NULL, numerator {dec} NOT NULL, denominator {dec} NOT NULL,"
            " orders INTEGER NOT NULL)"
        ),
    }
    ledgers = ("kpi_stage_stays", "kpi_complaints")
    indexes = (
        Index("ix_kpi_orders_number", "kpi_orders", "number", unique=True, lookup=True),
        Index("ix_kpi_orders_taken", "kpi_orders", "taken_day"),
        Index("ix_kpi_orders_delivered", "kpi_orders", "delivered_day"),
        Index("ix_kpi_stays_left", "kpi_stage_stays", "left_day"),
        Index("ix_kpi_stays_order", "kpi_stage_stays", "number"),
        Index("ix_kpi_qc_order", "kpi_qc", "sales_order", lookup=True),
        Index("ix_kpi_qc_checked", "kpi_qc", "checked_day"),
        Index("ix_kpi_complaints_order", "kpi_complaints", "number"),
        Index("ix_kpi_totals_figure", "kpi_totals", "kpi, period, dimension, period_start"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        ids = sorted({str(e.originator_id) for _, e in events})
        orders = _load(cur, self.t("kpi_orders"), ORDER_COLUMNS, "order_id", "order_id", ids)
        qc = _load(cur, self.t("kpi_qc"), QC_COLUMNS, "production_id", "production_id", ids)
        made_for = {e.sales_order for _, e in events if type(e).__name__ == "Scheduled"}
        numbers = {row["number"] for row in orders.values()} | {
            row["sales_order"] for row in qc.values()
        } | (made_for - {None})  # fmt: skip
        known = {row["number"] for row in orders.values()}
        missing = sorted(numbers - known)
        orders.update(_load(cur, self.t("kpi_orders"), ORDER_COLUMNS, "order_id", "number",
                            missing))  # fmt: skip
        qc.update(_load(cur, self.t("kpi_qc"), QC_COLUMNS, "production_id", "sales_order",
                        sorted(numbers)))  # fmt: skip
        for row in orders.values():  # a list while the page is folded
            row["stays"] = json.loads(row["stays"])
        page = _Page(orders, qc, _lines(cur, self.t("kpi_order_lines"), sorted(numbers)))
        for position, e in events:
            page.fold(position, e)
        self._write(cur, page)

    def _write(self, cur: Cursor, page: _Page) -> None:
        rows = [
            tuple(json.dumps(sorted(row[c])) if c == "stays" else row[c] for c in ORDER_COLUMNS)
            for row in page.orders.values()
        ]
        cur.upsert_rows(self.t("kpi_orders"), ORDER_COLUMNS, "order_id", rows)
        # Lines rewritten in one delete and one bulk insert per page, not two statements per
        # order (on PostgreSQL each was a round trip, and a COPY of one order's few rows).
        rewritten = sorted(page.rewritten)
        table = self.t("kpi_order_lines")
        for start in range(0, len(rewritten), 500):
            chunk = rewritten[start : start + 500]
            cur.execute(f"DELETE FROM {table} WHERE number IN ({','.join('?' * len(chunk))})",
                        chunk)  # fmt: skip
        cur.insert_rows(table, LINE_COLUMNS, [
            (number, line, amount)
            for number in rewritten for line, amount in sorted(page.lines[number].items())
        ])  # fmt: skip
        cur.insert_rows(self.t("kpi_stage_stays"), STAY_COLUMNS, page.stays)
        qc = [tuple(row[c] for c in QC_COLUMNS) for row in page.qc.values()]
        cur.upsert_rows(self.t("kpi_qc"), QC_COLUMNS, "production_id", qc)
        cur.insert_rows(self.t("kpi_complaints"), COMPLAINT_COLUMNS, page.complaints)
        totals.write(cur, self.t("kpi_totals"), page.changes)


class _Page:
    """The rows one page of events touches, folded event by event; `changes` gathers what
    each event did to the period totals (its orders' facts after it less those before)."""

    def __init__(self, orders: dict[str, dict[str, Any]], qc: dict[str, dict[str, Any]],
                 lines: dict[str, dict[str, Decimal]]) -> None:  # fmt: skip
        self.orders = orders
        self.qc = qc
        self.lines = lines  # number -> product line -> amount
        self.rewritten: set[str] = set()  # numbers whose lines changed
        self.by_number = {row["number"]: key for key, row in orders.items()}
        self.stays: list[tuple[Any, ...]] = []
        self.complaints: list[tuple[Any, ...]] = []
        self.changes = totals.Contribution()

    def fold(self, position: int, e: Any) -> None:
        kind, key = type(e).__name__, str(e.originator_id)
        if type(e).__qualname__.startswith("ProductionOrder."):
            self._production(kind, key, e)
            return
        if kind == "Created":
            self.orders[key] = _new_order(key, e)
            self.by_number[e.number] = key
            self._set_lines(e.number, _by_product_line(e.lines, e.currency))
            self.changes.merge(totals.order_facts(self.orders[key], self.lines[e.number]), 1)
            return
        row = self.orders[key]
        number = row["number"]
        if kind == "StageChanged":
            entered = _as_datetime(row["stage_entered_at"])
            seconds = max(Decimal(0), totals.seconds_between(entered, e.effective_at))
            left = totals.utc_day(e.effective_at)
            assert left is not None
            self.stays.append((position, number, row["stage"], entered, e.effective_at, left,
                               seconds))  # fmt: skip
            totals.add_stay(self.changes, row, self.lines.get(number, {}), row["stage"], left,
                            seconds)  # fmt: skip
            row.update(stage=e.to_stage, stage_entered_at=e.effective_at)
        elif kind == "ComplaintRecorded":
            self.complaints.append((e.complaint_id, number, e.category, e.effective_at))
            self._order_change(row, lambda: row.update(complaints=row["complaints"] + 1))
        elif kind == "Amended":
            self._whole_change(row, lambda: self._amend(row, e))
        elif kind == "DeliveryConfirmed" and e.everything_delivered:
            day = totals.utc_day(e.effective_at)
            self._order_change(row, lambda: row.update(delivered_at=e.effective_at,
                                                       delivered_day=day))  # fmt: skip
        elif kind == "Cancelled":
            self._whole_change(row, lambda: row.update(cancelled=1))

    def _amend(self, row: dict[str, Any], e: Any) -> None:
        row["total"] = _total(e.lines, row["currency"])
        row["promised_date"] = _iso(e.promised_date)
        self._set_lines(row["number"], _by_product_line(e.lines, row["currency"]))

    def _set_lines(self, number: str, lines: dict[str, Decimal]) -> None:
        self.lines[number] = lines
        self.rewritten.add(number)

    def _order_change(self, row: dict[str, Any], change: Callable[[], object]) -> None:
        """A delivery or a complaint: it moves only the delivered order's facts (cycle time,
        on time, complaint), not its value."""
        lines = self.lines.get(row["number"], {})
        before = totals.order_facts(row, lines, delivered_only=True)
        change()
        self.changes.change(before, totals.order_facts(row, lines, delivered_only=True))

    def _whole_change(self, row: dict[str, Any], change: Callable[[], object]) -> None:
        """An event that may move every fact of the order (its lines, or its cancellation)."""
        before = self._facts(row)
        change()
        self.changes.change(before, self._facts(row))

    def _facts(self, row: dict[str, Any]) -> totals.Contribution:
        number = row["number"]
        lines = self.lines.get(number, {})
        made = totals.order_facts(row, lines)
        made.merge(totals.stay_facts(row, lines), 1)
        made.merge(totals.qc_facts(row, lines, self._checks(number)), 1)
        return made

    def _checks(self, number: str) -> list[dict[str, Any]]:
        return [check for check in self.qc.values() if check["sales_order"] == number]

    def _production(self, kind: str, key: str, e: Any) -> None:
        if kind == "Scheduled":
            if e.sales_order is not None:  # made for stock: no order's KPI to count it in
                self.qc[key] = {
                    "production_id": key, "production_number": e.number,
                    "sales_order": e.sales_order, "first_passed": None, "checked_at": None,
                    "checked_day": None,
                }  # fmt: skip
            return
        check = self.qc.get(key)
        if check is None or check["first_passed"] is not None:  # only the first check counts
            return
        order = self.orders.get(self.by_number.get(check["sales_order"], ""))
        lines = self.lines.get(check["sales_order"], {})
        before = totals.qc_facts(order, lines, self._checks(check["sales_order"]))
        check.update(first_passed=1 if e.passed else 0, checked_at=e.effective_at,
                     checked_day=totals.utc_day(e.effective_at))  # fmt: skip
        self.changes.change(
            before, totals.qc_facts(order, lines, self._checks(check["sales_order"]))
        )


def _new_order(key: str, e: Any) -> dict[str, Any]:
    taken = getattr(e, "taken_at", None) or e.timestamp
    return {
        "order_id": key, "number": e.number, "customer": e.customer, "region": e.region,
        "salesperson": e.salesperson, "currency": e.currency,
        "total": _total(e.lines, e.currency), "taken_at": taken,
        "taken_day": totals.utc_day(taken), "promised_date": _iso(e.promised_date),
        "delivered_at": None, "delivered_day": None, "cancelled": 0, "complaints": 0,
        "stage": e.stage, "stage_entered_at": taken, "stays": [],
    }  # fmt: skip


def _total(lines: list[dict[str, Any]], currency: str) -> Decimal:
    return sum((line_amount(line, currency) for line in lines), Decimal(0))


def _by_product_line(lines: list[dict[str, Any]], currency: str) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in lines:
        key = product_line(line["sku"])
        amounts[key] = amounts.get(key, Decimal(0)) + line_amount(line, currency)
    return amounts


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _as_datetime(value: Any) -> datetime:
    """PostgreSQL returns datetimes, SQLite ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _load(
    cur: Cursor, table: str, columns: list[str], key: str, by: str, values: list[str]
) -> dict[str, dict[str, Any]]:
    """Rows whose `by` is one of `values`, by their `key`."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        cur.execute(
            f"SELECT {', '.join(columns)} FROM {table}"
            f" WHERE {by} IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        found.update({row[key]: row for row in cur.fetchdicts()})
    return found


def _lines(cur: Cursor, table: str, numbers: list[str]) -> dict[str, dict[str, Decimal]]:
    """The orders' value by product line, as stored."""
    found: dict[str, dict[str, Decimal]] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        cur.execute(
            f"SELECT number, product_line, amount FROM {table}"
            f" WHERE number IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for number, line, amount in cur.fetchall():
            found.setdefault(number, {})[line] = Decimal(amount)
    return found
