"""Orders read model: one row per sales order, and its timeline.

`order_timeline` holds every event of an order with the workflow stage before and after it,
the fulfilment status after it, who did it (actor and role), when (recorded and effective),
and — on stage changes — how long the order had been in the stage it left. `sales_orders`
carries the current stage, its responsible role and SLA due time, which the SLA monitor
scans, and the shipped and delivered quantities the status percentages come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.sales_orders import SalesOrder, line_amount
from domain.sla import SlaBreach
from projections.base import Index, PositionedEvent, Projection, events_of, meta_of
from projections.store import Cursor

ORDER_COLUMNS = [
    "order_id", "number", "customer", "warehouse", "status", "stage", "stage_role",
    "awaiting_role", "workflow", "workflow_version", "sla_due_at", "sla_breached_at",
    "currency", "total", "ordered_qty", "shipped_qty", "delivered_qty",
    "salesperson", "region", "channel", "external_ref", "requested_delivery", "promised_date",
    "version", "created_at", "updated_at", "stage_entered_at",
]  # fmt: skip
TIMELINE_COLUMNS = [
    "position", "number", "kind", "from_stage", "to_stage", "status", "actor", "role",
    "correlation_id", "recorded_at", "effective_at", "seconds_in_previous_stage", "detail",
]  # fmt: skip
TERMINAL_STATUSES = ("cancelled",)


def _detail(kind: str, e: Any) -> str:
    if kind == "Shipped":
        return f"shipment {e.shipment_ref} by {e.carrier}, tracking {e.tracking_number}"
    if kind == "DeliveryConfirmed":
        return f"shipment {e.shipment_ref} signed by {e.signed_by}"
    if kind == "Cancelled":
        return str(e.reason)
    if kind == "StockAllocated" and e.short:
        return "short lines: " + ", ".join(sorted(e.short, key=int))
    if kind == "Submitted":
        roles = [level["role"] for level in e.levels]
        return "approval by " + " then ".join(roles) if roles else "no approval needed"
    if kind == "ApprovalGiven":
        return f"level {e.level} approved by {e.role}" + (f": {e.comment}" if e.comment else "")
    if kind == "Rejected":
        return f"level {e.level} rejected by {e.role}: {e.comment}"
    if kind == "StageChanged":
        due = f", due {e.sla_due_at.isoformat()}" if e.sla_due_at else ""
        return f"on {e.trigger}, {e.role} responsible{due}" + (
            f": {e.comment}" if e.comment else ""
        )
    if kind == "ShortageRouted":
        return "; ".join(f"line {r['line_no']} → {r['kind']} {r['document']}" for r in e.routes)
    if kind == "ProductionProgressed":
        return f"production {e.production_number} {e.status}"
    if kind == "CreditHeld":
        return _held(e)
    if kind == "ComplaintRecorded":
        return f"complaint {e.complaint_id} ({e.category}): {e.reason}"
    if kind == "CreditReleased":
        return f"credit released by {e.role or e.actor}: {e.reason}"
    if kind == "Recorded":  # an SLA breach
        return f"SLA breached in {e.stage} (due {e.due_at.isoformat()}), {e.role} alerted"
    return ""


def _held(e: Any) -> str:
    by = f"shipment {e.shipment_ref} refused" if e.shipment_ref else f"by {e.role or e.actor}"
    figures = e.figures
    shown = (
        f" (exposure {figures['exposure']} of limit {figures['limit']} {figures['currency']},"
        f" score {figures['score']})"
        if figures
        else ""
    )
    return f"credit hold, {by}: {e.reason}{shown}"


class OrdersProjection(Projection):
    """`sales_orders` (current state per order) and `order_timeline` (every event)."""

    name = "orders"
    event_classes = (
        *events_of(
            SalesOrder, "Created", "Amended", "Submitted", "ApprovalGiven", "Rejected",
            "StageChanged", "StockAllocated", "ShortageRouted", "ShortageReserved",
            "ProductionProgressed", "Shipped", "DeliveryConfirmed", "Cancelled",
            "CreditHeld", "CreditReleased", "ComplaintRecorded",
        ),
        *events_of(SlaBreach, "Recorded"),
    )  # fmt: skip
    tables = {
        "sales_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " order_id TEXT PRIMARY KEY, number TEXT NOT NULL, customer TEXT NOT NULL,"
            " warehouse TEXT NOT NULL,"
            " status TEXT NOT NULL, stage TEXT NOT NULL, stage_role TEXT NOT NULL,"
            " awaiting_role TEXT, workflow TEXT NOT NULL, workflow_version INTEGER NOT NULL,"
            " sla_due_at {ts}, sla_breached_at {ts},"
            " currency TEXT NOT NULL, total {dec} NOT NULL, ordered_qty {dec} NOT NULL,"
            " shipped_qty {dec} NOT NULL, delivered_qty {dec} NOT NULL,"
            " salesperson TEXT NOT NULL, region TEXT NOT NULL, channel TEXT NOT NULL,"
            " external_ref TEXT, requested_delivery TEXT, promised_date TEXT,"
            " version INTEGER NOT NULL, created_at {ts}, updated_at {ts}, stage_entered_at {ts})"
        ),
        "order_timeline": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " position {bigint} PRIMARY KEY, number TEXT NOT NULL, kind TEXT NOT NULL,"
            " from_stage TEXT, to_stage TEXT NOT NULL, status TEXT NOT NULL, actor TEXT,"
            " role TEXT, correlation_id TEXT,"
            " recorded_at {ts} NOT NULL, effective_at {ts} NOT NULL,"
            " seconds_in_previous_stage {dec}, detail TEXT NOT NULL)"
        ),
    }
    ledgers = ("order_timeline",)
    indexes = (
        Index("ix_orders_number", "sales_orders", "number", unique=True),
        Index("ix_orders_status", "sales_orders", "status, number"),
        Index("ix_orders_stage", "sales_orders", "stage, number"),
        Index("ix_orders_sla_due", "sales_orders", "sla_due_at"),
        Index("ix_orders_sla_open", "sales_orders", "sla_breached_at, sla_due_at"),
        Index("ix_orders_customer", "sales_orders", "customer, number"),
        # A customer's own orders, newest first (the console's tracking list).
        Index("ix_orders_customer_created", "sales_orders", "customer, created_at"),
        # The approvals inbox: a role's waiting orders, most urgent first.
        Index("ix_orders_awaiting", "sales_orders", "awaiting_role, sla_due_at, number"),
        Index("ix_timeline_order", "order_timeline", "number, position"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        orders = self._load(cur, sorted({_order_key(e) for _, e in events}))
        timeline: list[tuple[Any, ...]] = []
        for position, e in events:
            kind = type(e).__name__
            if kind == "Created":
                orders[str(e.originator_id)] = _new_order(e)
            row = orders.get(_order_key(e))
            if row is None:  # an SLA breach of an order this model never saw: nothing to show
                continue
            before = None if kind == "Created" else row["stage"]
            seconds = _fold(row, kind, e)
            if kind != "Recorded":
                row.update(version=e.originator_version, updated_at=e.timestamp)
            meta = meta_of(e)
            timeline.append((
                position, row["number"], kind, before, row["stage"], row["status"],
                meta.get("actor"), meta.get("role"), meta.get("correlation_id"), e.timestamp,
                getattr(e, "effective_at", None) or e.timestamp, seconds, _detail(kind, e),
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


def _order_key(e: Any) -> str:
    """SLA breaches are their own aggregates: they name the order they are about."""
    return str(e.order_id) if type(e).__name__ == "Recorded" else str(e.originator_id)


def _fold(row: dict[str, Any], kind: str, e: Any) -> Decimal | None:
    """Apply one event to an order row; returns seconds spent in the stage it left."""
    if kind == "StageChanged":
        # Time in stage runs on recorded time: every event has it, and it only moves on.
        seconds = Decimal(
            str((e.timestamp - _as_datetime(row["stage_entered_at"])).total_seconds())
        )
        row.update(
            stage=e.to_stage, stage_role=e.role, sla_due_at=e.sla_due_at,
            sla_breached_at=None, stage_entered_at=e.timestamp,
        )  # fmt: skip
        return seconds
    if kind == "Amended":
        row["total"] = sum((line_amount(line, row["currency"]) for line in e.lines), Decimal(0))
        row["ordered_qty"] = _ordered(e.lines)
        row["requested_delivery"] = _iso(e.requested_delivery)
        row["promised_date"] = _iso(e.promised_date)
        if e.lines_changed:
            row.update(status="created", awaiting_role=None)
    elif kind == "Submitted":
        row["awaiting_role"] = e.levels[0]["role"] if e.levels else None
    elif kind == "ApprovalGiven":
        row["awaiting_role"] = e.next_role
        if e.next_role is not None:
            row["stage_role"] = e.next_role
    elif kind == "Rejected":
        row["awaiting_role"] = None
    elif kind == "StockAllocated":
        row["status"] = "approved"
    elif kind == "Shipped":
        row["status"] = "shipped" if e.complete else "partially_shipped"
        row["shipped_qty"] = Decimal(row["shipped_qty"]) + sum(e.quantities.values(), Decimal(0))
    elif kind == "DeliveryConfirmed":
        row["delivered_qty"] = Decimal(row["delivered_qty"]) + e.quantity
        if e.everything_delivered:
            row["status"] = "delivered"
    elif kind == "Cancelled":
        row.update(status="cancelled", awaiting_role=None)
    elif kind == "Recorded" and _breaches_current_stage(row, e):
        row["sla_breached_at"] = e.timestamp
    return None


def _breaches_current_stage(row: dict[str, Any], e: Any) -> bool:
    """Not a breach of an earlier stay (recorded after the order had moved on)."""
    due = row["sla_due_at"]
    return row["stage"] == e.stage and due is not None and _as_datetime(due) == e.due_at


def _ordered(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["quantity"]) for line in lines), Decimal(0))


def _new_order(e: Any) -> dict[str, Any]:
    return {
        "order_id": str(e.originator_id), "number": e.number, "customer": e.customer,
        "warehouse": e.warehouse, "status": "created", "stage": e.stage,
        "stage_role": e.stage_role, "awaiting_role": None, "workflow": e.workflow,
        "workflow_version": e.workflow_version, "sla_due_at": e.sla_due_at,
        "sla_breached_at": None, "currency": e.currency,
        "total": sum((line_amount(line, e.currency) for line in e.lines), Decimal(0)),
        "ordered_qty": _ordered(e.lines), "shipped_qty": Decimal(0),
        "delivered_qty": Decimal(0),
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
