"""Orders read model: one row per sales order, and its timeline of stage transitions.

`order_timeline` holds every event of an order with the stage before and after it, who did
it, when (recorded and effective), and how long the order had been in the stage it left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.sales_orders import SalesOrder, line_amount
from projections.base import Index, PositionedEvent, Projection, events_of, meta_of
from projections.store import Cursor

ORDER_COLUMNS = [
    "order_id", "number", "customer", "warehouse", "status", "currency", "total",
    "salesperson", "region", "channel", "external_ref", "requested_delivery", "promised_date",
    "version", "created_at", "updated_at", "stage_entered_at",
]  # fmt: skip
TIMELINE_COLUMNS = [
    "position", "number", "kind", "from_status", "to_status", "actor", "correlation_id",
    "recorded_at", "effective_at", "seconds_in_previous_stage", "detail",
]  # fmt: skip


def _next_status(kind: str, e: Any, current: str) -> str:
    if kind == "Created" or kind == "Amended":
        return "created"
    if kind == "Approved":
        return "approved"
    if kind == "Cancelled":
        return "cancelled"
    if kind == "Shipped":
        return "shipped" if e.complete else "partially_shipped"
    if kind == "DeliveryConfirmed" and e.everything_delivered:
        return "delivered"
    return current


def _detail(kind: str, e: Any) -> str:
    if kind == "Shipped":
        return f"shipment {e.shipment_ref} by {e.carrier}, tracking {e.tracking_number}"
    if kind == "DeliveryConfirmed":
        return f"shipment {e.shipment_ref} signed by {e.signed_by}"
    if kind == "Cancelled":
        return str(e.reason)
    if kind == "Approved" and e.short:
        return "short lines: " + ", ".join(sorted(e.short))
    return ""


class OrdersProjection(Projection):
    """`sales_orders` (current state per order) and `order_timeline` (every transition)."""

    name = "orders"
    event_classes = events_of(
        SalesOrder, "Created", "Amended", "Approved", "ShortageReserved", "Shipped",
        "DeliveryConfirmed", "Cancelled",
    )  # fmt: skip
    tables = {
        "sales_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " order_id TEXT PRIMARY KEY, number TEXT NOT NULL, customer TEXT NOT NULL,"
            " warehouse TEXT NOT NULL,"
            " status TEXT NOT NULL, currency TEXT NOT NULL, total {dec} NOT NULL,"
            " salesperson TEXT NOT NULL, region TEXT NOT NULL, channel TEXT NOT NULL,"
            " external_ref TEXT, requested_delivery TEXT, promised_date TEXT,"
            " version INTEGER NOT NULL, created_at {ts}, updated_at {ts}, stage_entered_at {ts})"
        ),
        "order_timeline": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " position {bigint} PRIMARY KEY, number TEXT NOT NULL, kind TEXT NOT NULL,"
            " from_status TEXT, to_status TEXT NOT NULL, actor TEXT, correlation_id TEXT,"
            " recorded_at {ts} NOT NULL, effective_at {ts} NOT NULL,"
            " seconds_in_previous_stage {dec}, detail TEXT NOT NULL)"
        ),
    }
    indexes = (
        Index("ix_orders_number", "sales_orders", "number", unique=True),
        Index("ix_orders_status", "sales_orders", "status, number"),
        Index("ix_orders_customer", "sales_orders", "customer, number"),
        Index("ix_timeline_order", "order_timeline", "number, position"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        orders = self._load(cur, sorted({str(e.originator_id) for _, e in events}))
        timeline: list[tuple[Any, ...]] = []
        for position, e in events:
            kind = type(e).__name__
            key = str(e.originator_id)
            if kind == "Created":
                orders[key] = _new_order(e)
            row = orders[key]
            # Time in stage runs on recorded time: every event has it, and it only moves on.
            when: datetime = e.timestamp
            effective: datetime = getattr(e, "effective_at", None) or e.timestamp
            before = None if kind == "Created" else row["status"]
            after = _next_status(kind, e, row["status"])
            seconds = None
            if before is not None and after != before:
                entered = _as_datetime(row["stage_entered_at"])
                seconds = Decimal(str((when - entered).total_seconds()))
            if after != before:
                row["stage_entered_at"] = when
            if kind == "Amended":
                amounts = (line_amount(line, row["currency"]) for line in e.lines)
                row["total"] = sum(amounts, Decimal(0))
                row["requested_delivery"] = _iso(e.requested_delivery)
                row["promised_date"] = _iso(e.promised_date)
            row.update(status=after, version=e.originator_version, updated_at=e.timestamp)
            meta = meta_of(e)
            timeline.append((
                position, row["number"], kind, before, after, meta.get("actor"),
                meta.get("correlation_id"), e.timestamp, effective, seconds, _detail(kind, e),
            ))  # fmt: skip
        rows = [tuple(row[c] for c in ORDER_COLUMNS) for row in orders.values()]
        cur.upsert_rows(self.t("sales_orders"), ORDER_COLUMNS, "order_id", rows)
        cur.insert_rows(self.t("order_timeline"), TIMELINE_COLUMNS, timeline)

    def _load(self, cur: Cursor, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Rows of the orders in this page, by aggregate id."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur.execute(
                f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.t('sales_orders')}"
                f" WHERE order_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({row["order_id"]: row for row in cur.fetchdicts()})
        return found


def _new_order(e: Any) -> dict[str, Any]:
    return {
        "order_id": str(e.originator_id), "number": e.number, "customer": e.customer,
        "warehouse": e.warehouse, "status": "created", "currency": e.currency,
        "total": sum((line_amount(line, e.currency) for line in e.lines), Decimal(0)),
        "salesperson": e.salesperson, "region": e.region, "channel": e.channel,
        "external_ref": e.external_ref, "requested_delivery": _iso(e.requested_delivery),
        "promised_date": _iso(e.promised_date), "version": 1, "created_at": e.timestamp,
        "updated_at": e.timestamp, "stage_entered_at": e.timestamp,
    }  # fmt: skip


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _as_datetime(value: Any) -> datetime:
    """PostgreSQL returns datetimes, SQLite ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
