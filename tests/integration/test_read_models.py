"""Inventory, catalog and purchasing read models, driven by the runner over the real log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.runtime import Runtime
from domain.ledger import Ledger
from domain.stock_items import StockItem
from projections.queries import list_inventory, movements, sku_inventory
from tests.conftest import command_meta as meta
from tests.integration.helpers import (
    MOVEMENT_EVENTS,
    busy_day,
    catch_up_all,
    create_po,
    inventory_row,
    num,
    produce,
    rows,
    stored_events,
)

D = Decimal


def test_inventory_rows_show_the_four_dimensions_per_item(runtime: Runtime, ledger: Ledger) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    wh1 = inventory_row(runtime, "SKU-1", "WH1")
    # physical: 20 + 10.5 − 5 − 6 − 1 = 18.5, then counted 17.5; locked 12 − 5 = 7
    assert (wh1["physical"], wh1["in_transit"], wh1["locked"]) == (D("17.5"), D(0), D(7))
    assert (wh1["available"], wh1["projected"]) == (D("10.5"), D("10.5"))
    wh2 = inventory_row(runtime, "SKU-1", "WH2")
    assert (wh2["physical"], wh2["in_transit"], wh2["locked"], wh2["projected"]) == (
        D(2),
        D(4),
        D(0),
        D(6),
    )
    sku2 = inventory_row(runtime, "SKU-2", "WH1")
    assert (sku2["physical"], sku2["in_transit"], sku2["safety_stock"]) == (D(3), D(5), D(2))
    assert sku2["below_safety"] is False
    for sku, warehouse in (("SKU-1", "WH1"), ("SKU-1", "WH2"), ("SKU-2", "WH1")):
        item = ledger.stock_item(sku, warehouse)
        row = inventory_row(runtime, sku, warehouse)
        assert (row["physical"], row["in_transit"], row["locked"]) == (
            item.physical, item.in_transit, item.locked,
        )  # fmt: skip
        assert row["version"] == item.version
        assert row["stock_item_id"] == str(item.id)


def test_stock_movements_carry_running_balances(runtime: Runtime, ledger: Ledger) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    with runtime.store.read() as cur:
        moves = movements(cur, "SKU-1", "WH1", after=None, limit=1000)
    assert [m["kind"] for m in moves] == [
        "FinishedGoodsReceived", "InboundExpected", "Received", "Reserved", "IssuedForShipment",
        "TransferredOut", "MaterialIssued", "Counted",
    ]  # fmt: skip
    physical = in_transit = locked = D(0)
    for move in moves:
        physical += move["d_physical"]
        in_transit += move["d_in_transit"]
        locked += move["d_locked"]
        assert (move["physical_after"], move["in_transit_after"], move["locked_after"]) == (
            physical, in_transit, locked,
        )  # fmt: skip
        assert move["available_after"] == physical - locked
        assert move["actor"] == "tester"
        assert move["correlation_id"].startswith("corr-")
    assert [m["version"] for m in moves] == sorted(m["version"] for m in moves)
    counted = moves[-1]
    assert (counted["quantity"], counted["d_physical"], counted["note"]) == (
        D("17.5"),
        D(-1),
        "recount",
    )
    received = moves[2]
    assert (received["document_type"], received["document_ref"]) == ("purchase_order", "PO-1")
    # 10.5 landed against 10 in transit (within the 5 % tolerance): only 10 leaves transit.
    assert (received["quantity"], received["d_physical"], received["d_in_transit"]) == (
        D("10.5"), D("10.5"), D(-10),
    )  # fmt: skip


def test_there_is_one_movement_row_per_movement_event(runtime: Runtime, ledger: Ledger) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    expected = sorted(
        p for p, e in stored_events(ledger)
        if isinstance(e, StockItem.Event) and type(e).__name__ in MOVEMENT_EVENTS
    )  # fmt: skip
    found = [
        r["position"]
        for r in rows(runtime, "SELECT position FROM stock_movements ORDER BY position")
    ]
    assert found == expected


def test_sku_totals_are_the_sum_over_warehouses(runtime: Runtime, ledger: Ledger) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    with runtime.store.read() as cur:
        view = sku_inventory(cur, "SKU-1")
    assert view is not None
    assert [w["warehouse"] for w in view["warehouses"]] == ["WH1", "WH2"]
    total = view["total"]
    assert (total["physical"], total["in_transit"], total["locked"]) == (D("19.5"), D(4), D(7))
    assert total["available"] == D("12.5")
    summed = rows(
        runtime,
        "SELECT SUM(physical) AS physical, SUM(in_transit) AS in_transit FROM inventory_items"
        " WHERE sku = ?",
        ("SKU-1",),
    )[0]
    # SQLite sums its TEXT decimals as REAL: round before comparing.
    assert round(num(summed["physical"]), 6) == D("19.5")
    assert round(num(summed["in_transit"]), 6) == D(4)


def test_the_catalog_lists_products_and_warehouses(runtime: Runtime, ledger: Ledger) -> None:
    ledger.reprice_product(meta(), sku="SKU-2", list_price="12.3456", standard_cost="5")
    catch_up_all(runtime)
    products = rows(runtime, "SELECT * FROM products ORDER BY sku")
    assert [p["sku"] for p in products] == ["SKU-1", "SKU-2"]
    assert (num(products[0]["list_price"]), num(products[0]["standard_cost"])) == (D(10), D("4.25"))
    assert (num(products[1]["list_price"]), products[1]["version"]) == (D("12.3456"), 2)
    assert bool(products[0]["standard"]) is True
    warehouses = rows(runtime, "SELECT code, name FROM warehouses ORDER BY code")
    assert warehouses == [
        {"code": "WH1", "name": "Warehouse WH1"},
        {"code": "WH2", "name": "Warehouse WH2"},
    ]


def test_purchasing_shows_orders_with_lines_and_received_quantities(
    runtime: Runtime, ledger: Ledger
) -> None:
    busy_day(ledger)
    create_po(ledger, "PO-2", [("SKU-2", "1")])
    ledger.cancel_purchase_order(meta(), number="PO-2", reason="duplicate")
    catch_up_all(runtime)
    orders = rows(runtime, "SELECT number, status, version FROM purchase_orders ORDER BY number")
    assert orders == [
        {"number": "PO-1", "status": "partially_received", "version": 3},
        {"number": "PO-2", "status": "cancelled", "version": 2},
    ]
    lines = rows(
        runtime,
        "SELECT line_no, sku, quantity, received FROM purchase_order_lines WHERE number = ?"
        " ORDER BY line_no",
        ("PO-1",),
    )
    assert [(r["line_no"], r["sku"], num(r["quantity"]), num(r["received"])) for r in lines] == [
        (1, "SKU-1", D(10), D("10.5")),
        (2, "SKU-2", D(8), D(3)),
    ]
    ledger.receive_purchase_order(meta(), number="PO-1", lines={2: "5"}, receipt_ref="GRN-2")
    catch_up_all(runtime)
    assert rows(runtime, "SELECT status FROM purchase_orders WHERE number = 'PO-1'") == [
        {"status": "received"}
    ]
    received = rows(
        runtime, "SELECT received FROM purchase_order_lines WHERE number = 'PO-1' AND line_no = 2"
    )
    assert num(received[0]["received"]) == D(8)


def test_catching_up_twice_changes_nothing(runtime: Runtime, ledger: Ledger) -> None:
    busy_day(ledger)
    catch_up_all(runtime)
    before = rows(runtime, "SELECT * FROM stock_movements ORDER BY position")
    assert all(runtime.runner.catch_up(name) == 0 for name in runtime.runner.projections)
    assert rows(runtime, "SELECT * FROM stock_movements ORDER BY position") == before
    assert all(status.lag == 0 for status in runtime.runner.status())


def test_inventory_lists_filter_by_prefix_warehouse_and_safety_and_page_by_key(
    runtime: Runtime, ledger: Ledger
) -> None:
    ledger.register_product(
        meta(), sku="SKU_X", name="underscore", unit="ea", make_or_buy="buy", standard=True,
        list_price="1", standard_cost="1", currency_code="EUR",
    )  # fmt: skip
    for sku in ("SKU-1", "SKU-2", "SKU_X"):
        for warehouse in ("WH1", "WH2"):
            produce(ledger, sku, "5", warehouse=warehouse)
    ledger.set_safety_stock(meta(), sku="SKU-2", warehouse="WH2", level="6")
    catch_up_all(runtime)

    def listed(**filters: Any) -> list[tuple[str, str]]:
        query = {"warehouse": None, "sku_prefix": None, "below_safety": None, "after": None}
        query.update(filters)
        with runtime.store.read() as cur:
            found = list_inventory(cur, limit=query.pop("limit", 100), **query)
        return [(r["sku"], r["warehouse"]) for r in found]

    everything = [(s, w) for s in ("SKU-1", "SKU-2", "SKU_X") for w in ("WH1", "WH2")]
    assert listed() == everything
    assert listed(sku_prefix="SKU_") == [("SKU_X", "WH1"), ("SKU_X", "WH2")]  # "_" is literal
    assert listed(warehouse="WH2") == [(s, "WH2") for s in ("SKU-1", "SKU-2", "SKU_X")]
    assert listed(below_safety=True) == [("SKU-2", "WH2")]
    assert len(listed(below_safety=False)) == 5
    first = listed(limit=4)
    rest = listed(after=first[-1], limit=4)
    assert first + rest == everything
