"""Safety-stock follower: an alert and exactly one purchase requisition per gap.

When an event leaves `projected` below the safety level, the follower opens an alert and
asks the ledger for a requisition whose id is derived from that event's position. The
request is made *before* the follower's own transaction commits: after a crash the page is
processed again, the same id is asked for, and the ledger answers "already raised". So a
gap gets one requisition however often the follower restarts. The alert clears when the gap
closes; a later gap is a new alert with a new requisition.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.commands_purchasing import PurchasingCommands
from domain.requisitions import requisition_id, requisition_number
from domain.values import Meta
from projections.base import Index, PositionedEvent, Projection, meta_of
from projections.inventory import InventoryProjection, ItemRow, load_items, upsert_items
from projections.store import Cursor

ACTOR = "system:safety-stock"


class SafetyStockFollower(Projection):
    """`safety_stock_watch` (quantities per item) and `safety_alerts` (one row per gap)."""

    name = "safety_stock"
    event_classes = InventoryProjection.event_classes
    tables = {
        "safety_stock_watch": InventoryProjection.tables["inventory_items"],
        "safety_alerts": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " alert_id TEXT PRIMARY KEY, stock_item_id TEXT NOT NULL, sku TEXT NOT NULL,"
            " warehouse TEXT NOT NULL, safety_stock {dec} NOT NULL, projected {dec} NOT NULL,"
            " gap {dec} NOT NULL, status TEXT NOT NULL, requisition_number TEXT,"
            " raised_position {bigint} NOT NULL, raised_at {ts},"
            " cleared_position {bigint}, cleared_at {ts})"
        ),
    }
    indexes = (Index("ix_alerts_item", "safety_alerts", "stock_item_id, status", lookup=True),)

    def __init__(self, ledger: PurchasingCommands | None = None, suffix: str = "") -> None:
        super().__init__(suffix)
        self.ledger = ledger

    def with_suffix(self, suffix: str) -> Projection:
        return SafetyStockFollower(self.ledger, suffix)

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        watch = self.t("safety_stock_watch")
        ids = sorted({str(e.originator_id) for _, e in events})
        items = load_items(cur, watch, ids)
        open_alerts = self._open_alerts(cur, ids)
        for position, domain_event in events:
            key = str(domain_event.originator_id)
            if type(domain_event).__name__ == "Opened":
                items[key] = ItemRow(key, domain_event.sku, domain_event.warehouse)
            item = items[key]
            item.apply(domain_event)
            item.last_position = position
            item.updated_at = domain_event.timestamp
            self._check(cur, item, position, domain_event, open_alerts)
        upsert_items(cur, watch, items.values())

    def _open_alerts(self, cur: Cursor, ids: Sequence[str]) -> dict[str, str]:
        """Open alert id per stock item, for the items of one page (one query per 500)."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur.execute(
                f"SELECT stock_item_id, alert_id FROM {self.t('safety_alerts')}"
                f" WHERE status = 'open' AND stock_item_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({row[0]: row[1] for row in cur.fetchall()})
        return found

    def _check(
        self,
        cur: Cursor,
        item: ItemRow,
        position: int,
        domain_event: Any,
        open_alerts: dict[str, str],
    ) -> None:
        alerts = self.t("safety_alerts")
        open_alert = open_alerts.get(item.stock_item_id)
        below = item.projected < item.safety_stock
        if below and open_alert is None:
            gap = item.safety_stock - item.projected
            number = self._raise(item, position, gap, domain_event)
            alert_id = str(requisition_id(UUID(item.stock_item_id), position))
            open_alerts[item.stock_item_id] = alert_id
            cur.execute(
                f"INSERT INTO {alerts} (alert_id, stock_item_id, sku, warehouse, safety_stock,"
                " projected, gap, status, requisition_number, raised_position, raised_at)"
                " VALUES (?,?,?,?,?,?,?,'open',?,?,?)",
                (alert_id, item.stock_item_id,
                 item.sku, item.warehouse, item.safety_stock, item.projected, gap, number,
                 position, domain_event.timestamp),
            )  # fmt: skip
        elif not below and open_alert is not None:
            cur.execute(
                f"UPDATE {alerts} SET status = 'cleared', cleared_position = ?, cleared_at = ?"
                " WHERE alert_id = ?",
                (position, domain_event.timestamp, open_alert),
            )
            del open_alerts[item.stock_item_id]

    def _raise(self, item: ItemRow, position: int, gap: Decimal, domain_event: Any) -> str | None:
        if self.ledger is None:
            # Replaying into a scratch store: observe, never act. The requisition this gap
            # raises has an id that follows from the item and the position, so its number
            # is known without asking (and equals the live row's).
            return requisition_number(requisition_id(UUID(item.stock_item_id), position))
        meta = Meta(
            actor=ACTOR,
            correlation_id=meta_of(domain_event).get("correlation_id") or f"position-{position}",
            command="raise_requisition",
            at=domain_event.timestamp,
            causation_id=str(position),
        )
        outcome = self.ledger.raise_requisition(
            meta,
            stock_item=UUID(item.stock_item_id),
            trigger_position=position,
            sku=item.sku,
            warehouse=item.warehouse,
            quantity_=gap,
            reason=f"projected {item.projected} below safety stock {item.safety_stock}",
        )
        return requisition_number(UUID(outcome.result["id"]))
