"""KPI read model: per sales order, the dated facts the decision KPIs are computed from.

`kpi_orders` has one row per order: who and where (customer, region, salesperson), its value
and currency, when it was taken, its promised date, when it was delivered in full and
whether it was cancelled. `kpi_order_lines` splits the order's value by product line (the
SKU's family prefix, see `product_line`). `kpi_stage_stays` holds every stay of an order in a
workflow stage that has ended, timed on business time (effective dates). `kpi_qc` holds the
first quality check of each production order made for a sales order, and `kpi_complaints`
every complaint. Invoice and payment facts are not copied: the KPI queries read them from
the receivables read model (projections/kpi_queries.py). docs/kpis.md defines every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.production import ProductionOrder
from domain.sales_orders import SalesOrder, line_amount
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

ORDER_COLUMNS = [
    "order_id", "number", "customer", "region", "salesperson", "currency", "total",
    "taken_at", "promised_date", "delivered_at", "cancelled", "stage", "stage_entered_at",
]  # fmt: skip
STAY_COLUMNS = ["position", "number", "stage", "entered_at", "left_at", "seconds"]
QC_COLUMNS = ["production_id", "production_number", "sales_order", "first_passed", "checked_at"]
COMPLAINT_COLUMNS = ["complaint_id", "number", "category", "complained_at"]


def product_line(sku: str) -> str:
    """A SKU's product line: its family prefix, the part before the first '-' (BRK-1042 →
    BRK); a SKU without one is a line of its own. The product master has no line attribute."""
    return sku.split("-", 1)[0]


class KpisProjection(Projection):
    """Per-order KPI facts (`kpi_*` tables); the figures are aggregated at query time."""

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
            " taken_at {ts} NOT NULL, promised_date TEXT, delivered_at {ts},"
            " cancelled INTEGER NOT NULL, stage TEXT NOT NULL, stage_entered_at {ts} NOT NULL)"
        ),
        "kpi_order_lines": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT NOT NULL, product_line TEXT NOT NULL, amount {dec} NOT NULL,"
            " PRIMARY KEY (number, product_line))"
        ),
        "kpi_stage_stays": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " position {bigint} PRIMARY KEY, number TEXT NOT NULL, stage TEXT NOT NULL,"
            " entered_at {ts} NOT NULL, left_at {ts} NOT NULL, seconds {dec} NOT NULL)"
        ),
        "kpi_qc": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " production_id TEXT PRIMARY KEY, production_number TEXT NOT NULL,"
            " sales_order TEXT NOT NULL,"
            " first_passed INTEGER, checked_at {ts})"
        ),
        "kpi_complaints": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " complaint_id TEXT PRIMARY KEY, number TEXT NOT NULL, category TEXT NOT NULL,"
            " complained_at {ts} NOT NULL)"
        ),
    }
    ledgers = ("kpi_stage_stays", "kpi_complaints")
    indexes = (
        Index("ix_kpi_orders_number", "kpi_orders", "number", unique=True),
        Index("ix_kpi_orders_taken", "kpi_orders", "taken_at"),
        Index("ix_kpi_orders_delivered", "kpi_orders", "delivered_at"),
        Index("ix_kpi_stays_left", "kpi_stage_stays", "left_at"),
        Index("ix_kpi_stays_order", "kpi_stage_stays", "number"),
        Index("ix_kpi_qc_order", "kpi_qc", "sales_order"),
        Index("ix_kpi_complaints_order", "kpi_complaints", "number"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        ids = sorted({str(e.originator_id) for _, e in events})
        page = _Page(
            _load(cur, self.t("kpi_orders"), ORDER_COLUMNS, "order_id", ids),
            _load(cur, self.t("kpi_qc"), QC_COLUMNS, "production_id", ids),
        )
        for position, e in events:
            page.fold(position, e)
        self._write(cur, page)

    def _write(self, cur: Cursor, page: _Page) -> None:
        rows = [tuple(row[c] for c in ORDER_COLUMNS) for row in page.orders.values()]
        cur.upsert_rows(self.t("kpi_orders"), ORDER_COLUMNS, "order_id", rows)
        for number, lines in page.lines.items():
            cur.execute(f"DELETE FROM {self.t('kpi_order_lines')} WHERE number = ?", (number,))
            cur.insert_rows(
                self.t("kpi_order_lines"), ["number", "product_line", "amount"],
                [(number, line, amount) for line, amount in sorted(lines.items())],
            )  # fmt: skip
        cur.insert_rows(self.t("kpi_stage_stays"), STAY_COLUMNS, page.stays)
        qc = [tuple(row[c] for c in QC_COLUMNS) for row in page.qc.values()]
        cur.upsert_rows(self.t("kpi_qc"), QC_COLUMNS, "production_id", qc)
        cur.insert_rows(self.t("kpi_complaints"), COMPLAINT_COLUMNS, page.complaints)


class _Page:
    """The rows one page of events touches, folded event by event."""

    def __init__(self, orders: dict[str, dict[str, Any]], qc: dict[str, dict[str, Any]]):
        self.orders = orders
        self.qc = qc
        self.lines: dict[str, dict[str, Decimal]] = {}  # number -> product line -> amount
        self.stays: list[tuple[Any, ...]] = []
        self.complaints: list[tuple[Any, ...]] = []

    def fold(self, position: int, e: Any) -> None:
        kind, key = type(e).__name__, str(e.originator_id)
        if type(e).__qualname__.startswith("ProductionOrder."):
            self._production(kind, key, e)
            return
        if kind == "Created":
            self.orders[key] = _new_order(key, e)
            self.lines[e.number] = _by_product_line(e.lines, e.currency)
            return
        row = self.orders[key]
        if kind == "Amended":
            row["total"] = _total(e.lines, row["currency"])
            row["promised_date"] = _iso(e.promised_date)
            self.lines[row["number"]] = _by_product_line(e.lines, row["currency"])
        elif kind == "StageChanged":
            entered = _as_datetime(row["stage_entered_at"])
            seconds = max(Decimal(0), Decimal(str((e.effective_at - entered).total_seconds())))
            self.stays.append((position, row["number"], row["stage"], entered, e.effective_at,
                               seconds))  # fmt: skip
            row.update(stage=e.to_stage, stage_entered_at=e.effective_at)
        elif kind == "DeliveryConfirmed" and e.everything_delivered:
            row["delivered_at"] = e.effective_at
        elif kind == "Cancelled":
            row["cancelled"] = 1
        elif kind == "ComplaintRecorded":
            self.complaints.append((e.complaint_id, row["number"], e.category, e.effective_at))

    def _production(self, kind: str, key: str, e: Any) -> None:
        if kind == "Scheduled":
            if e.sales_order is not None:  # made for stock: no order's KPI to count it in
                self.qc[key] = {
                    "production_id": key, "production_number": e.number,
                    "sales_order": e.sales_order, "first_passed": None, "checked_at": None,
                }  # fmt: skip
            return
        row = self.qc.get(key)
        if row is not None and row["first_passed"] is None:  # only the first check counts
            row.update(first_passed=1 if e.passed else 0, checked_at=e.effective_at)


def _new_order(key: str, e: Any) -> dict[str, Any]:
    taken = getattr(e, "taken_at", None) or e.timestamp
    return {
        "order_id": key, "number": e.number, "customer": e.customer, "region": e.region,
        "salesperson": e.salesperson, "currency": e.currency,
        "total": _total(e.lines, e.currency), "taken_at": taken,
        "promised_date": _iso(e.promised_date), "delivered_at": None, "cancelled": 0,
        "stage": e.stage, "stage_entered_at": taken,
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
    cur: Cursor, table: str, columns: list[str], key: str, keys: list[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        cur.execute(
            f"SELECT {', '.join(columns)} FROM {table}"
            f" WHERE {key} IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        found.update({row[key]: row for row in cur.fetchdicts()})
    return found
