"""Helpers for tests that run on real SQLite and PostgreSQL through a `Runtime`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from domain.ledger import Ledger
from domain.stock_items import StockItem
from tests.conftest import command_meta as meta

PAGE = 500

MOVEMENT_EVENTS = {
    "InboundExpected", "InboundCancelled", "Received", "Reserved", "Released",
    "IssuedForShipment", "MaterialIssued", "FinishedGoodsReceived", "Counted",
    "TransferredOut", "TransferInbound", "TransferredIn",
}  # fmt: skip


def stored_events(ledger: Ledger, start: int = 1) -> list[tuple[int, Any]]:
    """Every event in the log from `start`, decoded, with its position."""
    found: list[tuple[int, Any]] = []
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        found += [(n.id, ledger.mapper.to_domain_event(n)) for n in page]
        if len(page) < PAGE:
            return found
        start = page[-1].id + 1


def names(events: list[tuple[int, Any]]) -> list[str]:
    return [type(e).__qualname__ for _, e in events]


def seed_catalog(ledger: Ledger, skus: tuple[str, ...] = ("SKU-1", "SKU-2")) -> None:
    for code in ("WH1", "WH2"):
        ledger.register_warehouse(meta("register_warehouse"), code_=code, name=f"Warehouse {code}")
    for sku in skus:
        ledger.register_product(
            meta("register_product"), sku=sku, name=f"Product {sku}", unit="ea",
            make_or_buy="buy", standard=True, list_price="10.00", standard_cost="4.2500",
            currency_code="EUR",
        )  # fmt: skip


def create_po(ledger: Ledger, number: str, lines: list[tuple[str, str]], **extra: Any) -> Any:
    return ledger.create_purchase_order(
        meta("create_purchase_order"),
        supplier="ACME",
        warehouse=extra.pop("warehouse", "WH1"),
        lines=[{"sku": sku, "quantity": qty, "unit_cost": "2.5"} for sku, qty in lines],
        currency_code="EUR",
        number=number,
        **extra,
    )


def produce(
    ledger: Ledger, sku: str, qty: str, warehouse: str = "WH1", ref: str = "MO-1", **extra: Any
) -> Any:
    return ledger.receive_finished_goods(
        meta("receive_finished_goods"), sku=sku, warehouse=warehouse, production_ref=ref,
        quantity_=qty, **extra,
    )  # fmt: skip


def levels(ledger: Ledger, sku: str, warehouse: str = "WH1") -> tuple[Decimal, Decimal, Decimal]:
    item = ledger.stock_item(sku, warehouse, open_if_missing=False)
    return item.physical, item.in_transit, item.locked


def catch_up_all(runtime: Runtime) -> None:
    for name in runtime.runner.projections:
        runtime.runner.catch_up(name)


def num(value: Any) -> Decimal:
    """A NUMERIC (PostgreSQL) or TEXT (SQLite) figure as a Decimal."""
    return Decimal(str(value)).normalize() + 0


def rows(runtime: Runtime, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with runtime.store.read() as cur:
        return cur.execute(sql, params).fetchdicts()


def table(runtime: Runtime, name: str, order_by: str) -> list[tuple[Any, ...]]:
    with runtime.store.read() as cur:
        return cur.execute(f"SELECT * FROM {name} ORDER BY {order_by}").fetchall()


def inventory_row(runtime: Runtime, sku: str, warehouse: str = "WH1") -> dict[str, Any]:
    found = rows(
        runtime, "SELECT * FROM inventory_items WHERE sku = ? AND warehouse = ?", (sku, warehouse)
    )
    assert len(found) == 1, found
    row = found[0]
    for key in ("physical", "in_transit", "locked", "available", "projected", "safety_stock"):
        row[key] = num(row[key])
    row["below_safety"] = bool(row["below_safety"])
    return row


def settle(runtime: Runtime, rounds: int = 5) -> None:
    """Catch every projection up until none has anything left: followers write new events."""
    for _ in range(rounds):
        if sum(runtime.runner.catch_up(name) for name in runtime.runner.projections) == 0:
            return
    raise AssertionError(f"projections still busy after {rounds} rounds")


def busy_day(ledger: Ledger) -> None:
    """A little of everything, on two SKUs and two warehouses."""
    produce(ledger, "SKU-1", "20")
    create_po(ledger, "PO-1", [("SKU-1", "10"), ("SKU-2", "8")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.receive_purchase_order(
        meta(), number="PO-1", lines={1: "10.5", 2: "3"}, receipt_ref="GRN-1"
    )
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="12")
    ledger.issue_for_shipment(
        meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="5", shipment_ref="SH-1"
    )
    ledger.transfer(
        meta(), sku="SKU-1", from_warehouse="WH1", to_warehouse="WH2", quantity_="6",
        transfer_ref="TRF-1",
    )  # fmt: skip
    ledger.receive_transfer(
        meta(), sku="SKU-1", warehouse="WH2", transfer_ref="TRF-1", quantity_="2"
    )
    ledger.issue_material(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-2", quantity_="1"
    )
    ledger.count_stock(meta(), sku="SKU-1", warehouse="WH1", counted="17.5", reason="recount")
    ledger.set_safety_stock(meta(), sku="SKU-2", warehouse="WH1", level="2")


ORDERING = {
    "inventory_items": "stock_item_id",
    "stock_movements": "position",
    "products": "sku",
    "warehouses": "code",
    "purchase_orders": "number",
    "purchase_order_lines": "number, line_no",
    "purchase_requisitions": "requisition_id",
}


def read_model(runtime: Runtime, projection: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = runtime.runner.projections[projection].tables
    return {name: table(runtime, name, ORDERING[name]) for name in tables}


def many_movements(ledger: Ledger, rounds: int = 8) -> None:
    """Enough events for many small pages, over several stock items."""
    busy_day(ledger)
    for n in range(rounds):
        produce(ledger, "SKU-2", "3", ref=f"MO-{n}")
        ledger.reserve(meta(), sku="SKU-2", warehouse="WH1", order_ref=f"SO-{n}", quantity_="2")
        ledger.issue_for_shipment(
            meta(), sku="SKU-2", warehouse="WH1", order_ref=f"SO-{n}", quantity_="1",
            shipment_ref=f"SH-{n}",
        )  # fmt: skip
        ledger.transfer(
            meta(), sku="SKU-2", from_warehouse="WH1", to_warehouse="WH2", quantity_="1"
        )


def assert_exactly_once(runtime: Runtime, ledger: Ledger) -> None:
    movement_positions = sorted(
        p for p, e in stored_events(ledger)
        if isinstance(e, StockItem.Event) and type(e).__name__ in MOVEMENT_EVENTS
    )  # fmt: skip
    found = [
        r["position"]
        for r in rows(runtime, "SELECT position FROM stock_movements ORDER BY position")
    ]
    assert found == movement_positions  # none lost, none twice
    items = rows(
        runtime, "SELECT sku, warehouse, physical, in_transit, locked FROM inventory_items"
    )
    assert len(items) == len(
        {e.originator_id for _, e in stored_events(ledger) if isinstance(e, StockItem.Opened)}
    )
    for row in items:
        item = ledger.stock_item(row["sku"], row["warehouse"])
        assert (num(row["physical"]), num(row["in_transit"]), num(row["locked"])) == (
            item.physical, item.in_transit, item.locked,
        )  # fmt: skip
