"""Inventory read model: the four dimensions per SKU × warehouse, and the movement ledger.

    available = physical − locked
    projected = available + in_transit + planned_production − unreserved_demand

`planned_production` and `unreserved_demand` are columns so that production orders and
sales orders can feed them; until then they stay 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.stock_items import StockItem
from projections.base import Index, PositionedEvent, Projection, events_of, meta_of
from projections.store import Cursor

ZERO = Decimal(0)

ITEM_COLUMNS = (
    "stock_item_id, sku, warehouse, physical, in_transit, locked, available,"
    " planned_production, unreserved_demand, projected, safety_stock, below_safety,"
    " version, last_position, updated_at"
)
MOVEMENT_COLUMNS = (
    "position, stock_item_id, sku, warehouse, version, kind, document_type, document_ref,"
    " quantity, d_physical, d_in_transit, d_locked, physical_after, in_transit_after,"
    " locked_after, available_after, note, effective_at, recorded_at, actor, correlation_id"
)
ITEM_NAMES = [c.strip() for c in ITEM_COLUMNS.split(",")]
MOVEMENT_NAMES = [c.strip() for c in MOVEMENT_COLUMNS.split(",")]

Deltas = tuple[Decimal, Decimal, Decimal]  # (Δphysical, Δin_transit, Δlocked)


@dataclass(frozen=True)
class Movement:
    """How one kind of StockItem event moves the dimensions, and what document caused it."""

    document_type: str
    ref_field: str
    deltas: Callable[[Any], Deltas]
    note: Callable[[Any], str] = lambda e: ""


def _q(e: Any) -> Decimal:
    return Decimal(e.quantity)


MOVEMENTS: dict[str, Movement] = {
    "InboundExpected": Movement("purchase_order", "document_ref", lambda e: (ZERO, _q(e), ZERO)),
    "InboundCancelled": Movement("purchase_order", "document_ref", lambda e: (ZERO, -_q(e), ZERO)),
    "Received": Movement(
        "purchase_order", "document_ref", lambda e: (_q(e), -Decimal(e.from_in_transit), ZERO)
    ),
    "Reserved": Movement("sales_order", "order_ref", lambda e: (ZERO, ZERO, _q(e))),
    "Released": Movement("sales_order", "order_ref", lambda e: (ZERO, ZERO, -_q(e))),
    "IssuedForShipment": Movement(
        "sales_order",
        "order_ref",
        lambda e: (-_q(e), ZERO, -_q(e)),
        lambda e: f"shipment {e.shipment_ref}",
    ),
    "MaterialIssued": Movement(
        "production_order", "production_ref", lambda e: (-_q(e), ZERO, ZERO)
    ),
    "FinishedGoodsReceived": Movement(
        "production_order", "production_ref", lambda e: (_q(e), ZERO, ZERO)
    ),
    "Counted": Movement(
        "stock_count",
        "count_ref",
        lambda e: (Decimal(e.difference), ZERO, ZERO),
        lambda e: e.reason,
    ),
    "TransferredOut": Movement(
        "transfer", "transfer_ref", lambda e: (-_q(e), ZERO, ZERO), lambda e: f"to {e.to_warehouse}"
    ),
    "TransferInbound": Movement(
        "transfer",
        "transfer_ref",
        lambda e: (ZERO, _q(e), ZERO),
        lambda e: f"from {e.from_warehouse}",
    ),
    "TransferredIn": Movement("transfer", "transfer_ref", lambda e: (_q(e), -_q(e), ZERO)),
}


@dataclass
class ItemRow:
    """One SKU × warehouse while a page is folded into it."""

    stock_item_id: str
    sku: str
    warehouse: str
    physical: Decimal = ZERO
    in_transit: Decimal = ZERO
    locked: Decimal = ZERO
    planned_production: Decimal = ZERO
    unreserved_demand: Decimal = ZERO
    safety_stock: Decimal = ZERO
    version: int = 0
    last_position: int = 0
    updated_at: Any = None

    @property
    def available(self) -> Decimal:
        return self.physical - self.locked

    @property
    def projected(self) -> Decimal:
        return self.available + self.in_transit + self.planned_production - self.unreserved_demand

    def apply(self, domain_event: Any) -> tuple[str, str, str, Deltas, str] | None:
        """Fold one event in; return (kind, document type, ref, deltas, note) for movements."""
        kind = type(domain_event).__name__
        self.version = domain_event.originator_version
        if kind == "SafetyStockSet":
            self.safety_stock = Decimal(domain_event.level)
            return None
        movement = MOVEMENTS.get(kind)
        if movement is None:
            return None
        deltas = movement.deltas(domain_event)
        self.physical += deltas[0]
        self.in_transit += deltas[1]
        self.locked += deltas[2]
        ref = getattr(domain_event, movement.ref_field)
        return kind, movement.document_type, ref, deltas, movement.note(domain_event)

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.stock_item_id, self.sku, self.warehouse, self.physical, self.in_transit,
            self.locked, self.available, self.planned_production, self.unreserved_demand,
            self.projected, self.safety_stock, self.projected < self.safety_stock,
            self.version, self.last_position, self.updated_at,
        )  # fmt: skip


def load_items(cur: Cursor, table: str, ids: Sequence[str]) -> dict[str, ItemRow]:
    """Current rows for the given stock items, in chunks that every store accepts."""
    rows: dict[str, ItemRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cur.execute(
            "SELECT stock_item_id, sku, warehouse, physical, in_transit, locked,"
            " planned_production, unreserved_demand, safety_stock, version, last_position,"
            f" updated_at FROM {table} WHERE stock_item_id IN ({marks})",
            chunk,
        )
        for r in cur.fetchall():
            rows[r[0]] = ItemRow(
                r[0], r[1], r[2], Decimal(r[3]), Decimal(r[4]), Decimal(r[5]),
                Decimal(r[6]), Decimal(r[7]), Decimal(r[8]), int(r[9]), int(r[10]), r[11],
            )  # fmt: skip
    return rows


def upsert_items(cur: Cursor, table: str, items: Iterable[ItemRow]) -> None:
    cur.upsert_rows(table, ITEM_NAMES, "stock_item_id", [item.as_row() for item in items])


class InventoryProjection(Projection):
    """`inventory_items` (one row per SKU × warehouse) and `stock_movements` (one per move)."""

    name = "inventory"
    event_classes = events_of(
        StockItem, "Opened", "InboundExpected", "InboundCancelled", "Received", "Reserved",
        "Released", "IssuedForShipment", "MaterialIssued", "FinishedGoodsReceived", "Counted",
        "TransferredOut", "TransferInbound", "TransferredIn", "SafetyStockSet",
    )  # fmt: skip
    tables = {
        "inventory_items": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " stock_item_id TEXT PRIMARY KEY, sku TEXT NOT NULL, warehouse TEXT NOT NULL,"
            " physical {dec} NOT NULL, in_transit {dec} NOT NULL, locked {dec} NOT NULL,"
            " available {dec} NOT NULL, planned_production {dec} NOT NULL,"
            " unreserved_demand {dec} NOT NULL, projected {dec} NOT NULL,"
            " safety_stock {dec} NOT NULL, below_safety {bool} NOT NULL,"
            " version INTEGER NOT NULL, last_position {bigint} NOT NULL, updated_at {ts})"
        ),
        "stock_movements": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " position {bigint} PRIMARY KEY, stock_item_id TEXT NOT NULL, sku TEXT NOT NULL,"
            " warehouse TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL,"
            " document_type TEXT NOT NULL, document_ref TEXT NOT NULL, quantity {dec} NOT NULL,"
            " d_physical {dec} NOT NULL, d_in_transit {dec} NOT NULL, d_locked {dec} NOT NULL,"
            " physical_after {dec} NOT NULL, in_transit_after {dec} NOT NULL,"
            " locked_after {dec} NOT NULL, available_after {dec} NOT NULL, note TEXT,"
            " effective_at {ts} NOT NULL, recorded_at {ts} NOT NULL, actor TEXT,"
            " correlation_id TEXT)"
        ),
    }
    ledgers = ("stock_movements",)
    indexes = (
        Index("ix_inventory_sku_wh", "inventory_items", "sku, warehouse", unique=True),
        Index("ix_inventory_wh_sku", "inventory_items", "warehouse, sku"),
        Index("ix_movements_item", "stock_movements", "stock_item_id, position"),
        # A SKU's movements in every warehouse, newest first (the console's SKU page), and
        # one item's by SKU and warehouse (`queries.movements`), without a scan of the ledger.
        Index("ix_movements_sku", "stock_movements", "sku, position"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        if not events:
            return
        keyed = [(position, str(e.originator_id), e) for position, e in events]
        items = load_items(cur, self.t("inventory_items"), sorted({key for _, key, _ in keyed}))
        movements: list[tuple[Any, ...]] = []
        for position, key, domain_event in keyed:
            if type(domain_event).__name__ == "Opened":
                items[key] = ItemRow(key, domain_event.sku, domain_event.warehouse)
            item = items[key]
            moved = item.apply(domain_event)
            item.last_position = position
            item.updated_at = domain_event.timestamp
            if moved is not None:
                movements.append(_movement(position, item, domain_event, moved))
        upsert_items(cur, self.t("inventory_items"), items.values())
        cur.insert_rows(self.t("stock_movements"), MOVEMENT_NAMES, movements)


def _movement(
    position: int, item: ItemRow, domain_event: Any, moved: tuple[Any, ...]
) -> tuple[Any, ...]:
    kind, document_type, ref, deltas, note = moved
    meta = meta_of(domain_event)
    quantity = getattr(domain_event, "quantity", None)
    if quantity is None:
        quantity = domain_event.counted
    return (
        position, item.stock_item_id, item.sku, item.warehouse, domain_event.originator_version,
        kind, document_type, ref, quantity, deltas[0], deltas[1], deltas[2], item.physical,
        item.in_transit, item.locked, item.available, note, domain_event.effective_at,
        domain_event.timestamp, meta.get("actor"), meta.get("correlation_id"),
    )  # fmt: skip
