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
        Index("ix_po_order_id", "purchase_orders", "order_id", unique=True),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        handlers = {
            "PurchaseOrder.Created": self._created,
            "PurchaseOrder.Approved": self._approved,
            "PurchaseOrder.GoodsReceived": self._goods_received,
            "PurchaseOrder.Cancelled": self._cancelled,
            "PurchaseRequisition.Raised": self._requisition_raised,
            "PurchaseRequisition.Closed": self._requisition_closed,
        }
        for _, e in events:
            handlers[type(e).__qualname__](cur, e)

    def _created(self, cur: Cursor, e: Any) -> None:
        cur.execute(
            f"INSERT INTO {self.t('purchase_orders')} (number, order_id, supplier, warehouse,"
            " status, currency, receipt_tolerance, requisition_ref, version, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (e.number, str(e.originator_id), e.supplier, e.warehouse, "draft", e.currency,
             e.receipt_tolerance, e.requisition_ref, 1, e.timestamp, e.timestamp),
        )  # fmt: skip
        cur.executemany(
            f"INSERT INTO {self.t('purchase_order_lines')} (number, line_no, sku, quantity,"
            " received, unit_cost) VALUES (?,?,?,?,?,?)",
            [
                (e.number, line["line_no"], line["sku"], Decimal(line["quantity"]), Decimal(0),
                 Decimal(line["unit_cost"]))
                for line in e.lines
            ],
        )  # fmt: skip

    def _status(self, cur: Cursor, e: Any, status: str) -> None:
        cur.execute(
            f"UPDATE {self.t('purchase_orders')} SET status = ?, version = ?, updated_at = ?"
            " WHERE order_id = ?",
            (status, e.originator_version, e.timestamp, str(e.originator_id)),
        )

    def _approved(self, cur: Cursor, e: Any) -> None:
        self._status(cur, e, "approved")

    def _cancelled(self, cur: Cursor, e: Any) -> None:
        self._status(cur, e, "cancelled")

    def _goods_received(self, cur: Cursor, e: Any) -> None:
        self._status(cur, e, "received" if e.fully_received else "partially_received")
        number = cur.execute(
            f"SELECT number FROM {self.t('purchase_orders')} WHERE order_id = ?",
            (str(e.originator_id),),
        ).fetchone()
        assert number is not None
        for line_no, qty in e.quantities.items():
            row = cur.execute(
                f"SELECT received FROM {self.t('purchase_order_lines')}"
                " WHERE number = ? AND line_no = ?",
                (number[0], int(line_no)),
            ).fetchone()
            assert row is not None
            cur.execute(
                f"UPDATE {self.t('purchase_order_lines')} SET received = ?"
                " WHERE number = ? AND line_no = ?",
                (Decimal(row[0]) + Decimal(qty), number[0], int(line_no)),
            )

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
