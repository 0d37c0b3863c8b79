"""Purchasing read model: purchase orders with their lines, and purchase requisitions."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.purchase_orders import PurchaseOrder
from domain.requisitions import PurchaseRequisition
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor


class PurchasingProjection(Projection):
    """`purchase_orders`, `purchase_order_lines` and `purchase_requisitions`."""

    name = "purchasing"
    event_classes = (
        *events_of(PurchaseOrder, "Created", "Approved", "GoodsReceived", "Cancelled"),
        *events_of(PurchaseRequisition, "Raised", "Closed"),
    )
    tables = {
        "purchase_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT PRIMARY KEY, order_id TEXT NOT NULL, supplier TEXT NOT NULL,"
            " warehouse TEXT NOT NULL, status TEXT NOT NULL, currency TEXT NOT NULL,"
            " receipt_tolerance {dec} NOT NULL, requisition_ref TEXT, version INTEGER NOT NULL,"
            " created_at {ts}, updated_at {ts})"
        ),
        "purchase_order_lines": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " number TEXT NOT NULL, line_no INTEGER NOT NULL, sku TEXT NOT NULL,"
            " quantity {dec} NOT NULL, received {dec} NOT NULL, unit_cost {dec} NOT NULL,"
            " PRIMARY KEY (number, line_no))"
        ),
        "purchase_requisitions": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " requisition_id TEXT PRIMARY KEY, number TEXT NOT NULL, sku TEXT NOT NULL,"
            " warehouse TEXT NOT NULL, quantity {dec} NOT NULL, reason TEXT NOT NULL,"
            " status TEXT NOT NULL, purchase_order TEXT, trigger_position {bigint} NOT NULL,"
            " raised_at {ts}, closed_at {ts})"
        ),
    }
    indexes = (
        Index("ix_po_status", "purchase_orders", "status, number"),
        # Status changes and receipts find their order by aggregate id: without this each
        # one scanned the whole table, and a rebuild slowed down as purchase orders grew.
        Index("ix_po_order_id", "purchase_orders", "order_id", unique=True, lookup=True),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        """Purchase orders of the page are loaded once, folded in memory and written back in
        bulk (a query per event made a rebuild wait on round trips); requisitions are rare
        and written as they come."""
        ids = sorted(
            {str(e.originator_id) for _, e in events if isinstance(e, PurchaseOrder.Event)}
        )
        orders = self._load(cur, "purchase_orders", "order_id", ids)
        lines = self._load(
            cur, "purchase_order_lines", "number", [o["number"] for o in orders.values()]
        )
        for _, e in events:
            name = type(e).__qualname__
            if name == "PurchaseRequisition.Raised":
                self._requisition_raised(cur, e)
            elif name == "PurchaseRequisition.Closed":
                self._requisition_closed(cur, e)
            else:
                _fold(orders, lines, name.rsplit(".", 1)[-1], e)
        cur.upsert_rows(
            self.t("purchase_orders"), ORDER_COLUMNS, "number",
            [tuple(row[c] for c in ORDER_COLUMNS) for row in orders.values()],
        )  # fmt: skip
        cur.upsert_rows(
            self.t("purchase_order_lines"), LINE_COLUMNS, "number, line_no",
            [tuple(row[c] for c in LINE_COLUMNS) for row in lines.values()],
        )  # fmt: skip

    def _load(self, cur: Cursor, base: str, key: str, values: list[str]) -> dict[Any, Any]:
        """Rows of `base` whose `key` is one of `values`: orders by aggregate id, lines by
        (number, line number)."""
        columns = ORDER_COLUMNS if base == "purchase_orders" else LINE_COLUMNS
        found: dict[Any, Any] = {}
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            cur.execute(
                f"SELECT {', '.join(columns)} FROM {self.t(base)}"
                f" WHERE {key} IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in cur.fetchdicts():
                found[row["order_id"] if key == "order_id" else (row["number"], row["line_no"])] = (
                    row
                )
        return found

    def _requisition_raised(self, cur: Cursor, e: Any) -> None:
        cur.execute(
            f"INSERT INTO {self.t('purchase_requisitions')} (requisition_id, number, sku,"
            " warehouse, quantity, reason, status, trigger_position, raised_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (str(e.originator_id), e.number, e.sku, e.warehouse, e.quantity, e.reason, "open",
             e.trigger_position, e.timestamp),
        )  # fmt: skip

    def _requisition_closed(self, cur: Cursor, e: Any) -> None:
        cur.execute(
            f"UPDATE {self.t('purchase_requisitions')} SET status = 'closed',"
            " purchase_order = ?, closed_at = ? WHERE requisition_id = ?",
            (e.purchase_order, e.timestamp, str(e.originator_id)),
        )


ORDER_COLUMNS = (
    "number", "order_id", "supplier", "warehouse", "status", "currency", "receipt_tolerance",
    "requisition_ref", "version", "created_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = ("number", "line_no", "sku", "quantity", "received", "unit_cost")
STATUSES = {"Approved": "approved", "Cancelled": "cancelled"}


def _fold(orders: dict[str, Any], lines: dict[Any, Any], kind: str, e: Any) -> None:
    """One purchase-order event applied to the page's rows."""
    key = str(e.originator_id)
    if kind == "Created":
        orders[key] = {
            "number": e.number, "order_id": key, "supplier": e.supplier,
            "warehouse": e.warehouse, "status": "draft", "currency": e.currency,
            "receipt_tolerance": e.receipt_tolerance, "requisition_ref": e.requisition_ref,
            "version": 1, "created_at": e.timestamp, "updated_at": e.timestamp,
        }  # fmt: skip
        for line in e.lines:
            lines[(e.number, line["line_no"])] = {
                "number": e.number, "line_no": line["line_no"], "sku": line["sku"],
                "quantity": Decimal(line["quantity"]), "received": Decimal(0),
                "unit_cost": Decimal(line["unit_cost"]),
            }  # fmt: skip
        return
    order = orders[key]
    if kind == "GoodsReceived":
        order["status"] = "received" if e.fully_received else "partially_received"
        for line_no, qty in e.quantities.items():
            line = lines[(order["number"], int(line_no))]
            line["received"] = Decimal(line["received"]) + Decimal(qty)
    else:
        order["status"] = STATUSES[kind]
    order.update(version=e.originator_version, updated_at=e.timestamp)
