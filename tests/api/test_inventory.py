"""Inventory read model over HTTP: listing with filters and cursors, totals, movements,
safety-stock alerts and the purchase requisitions they raise."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem

SKUS = ("AB-1", "AB-2", "B-1", "C.1")
WAREHOUSES = ("WH-1", "WH-2")


@pytest.fixture
def grid(api: Api) -> tuple[Api, int]:
    """Every SKU in both warehouses, with distinct quantities; returns the last position."""
    for code in WAREHOUSES:
        api.warehouse(code)
    position = 0
    for n, sku in enumerate(SKUS, start=1):
        api.product(sku)
        for m, code in enumerate(WAREHOUSES, start=1):
            position = api.produce(sku, code, str(n * 10 + m))["position"]
    return api, position


def walk(api: Api, **params: Any) -> list[tuple[str, str]]:
    """Every page of /inventory, following next_cursor until it runs out."""
    keys: list[tuple[str, str]] = []
    cursor = None
    for _ in range(50):
        page = api.read("/inventory", cursor=cursor, **params)
        keys += [(row["sku"], row["warehouse"]) for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return keys
    raise AssertionError("pagination never ended")


def test_listing_inventory_shows_every_dimension(grid: tuple[Api, int]) -> None:
    api, position = grid

    rows = api.read("/inventory", min_position=position, sku_prefix="AB-1", warehouse="WH-2")[
        "items"
    ]

    assert len(rows) == 1
    row = rows[0]
    assert (row["sku"], row["warehouse"], row["physical"], row["available"]) == (
        "AB-1",
        "WH-2",
        "12",
        "12",
    )
    assert (row["in_transit"], row["locked"], row["projected"], row["safety_stock"]) == (
        "0",
        "0",
        "12",
        "0",
    )
    assert row["below_safety"] is False


def test_cursor_pagination_walks_every_row_once_with_or_without_filters(
    grid: tuple[Api, int], subtests: pytest.Subtests
) -> None:
    api, position = grid
    everything = [
        (r["sku"], r["warehouse"]) for r in api.read("/inventory", min_position=position)["items"]
    ]
    assert sorted(everything) == sorted((sku, code) for sku in SKUS for code in WAREHOUSES)

    for limit in (1, 3, 8, 100):
        with subtests.test(limit=limit):
            assert walk(api, limit=limit) == everything
    with subtests.test("filtered by warehouse"):
        assert walk(api, warehouse="WH-2", limit=3) == [
            key for key in everything if key[1] == "WH-2"
        ]
    with subtests.test("filtered by SKU prefix"):
        assert walk(api, sku_prefix="AB-", limit=1) == [
            key for key in everything if key[0].startswith("AB-")
        ]
    with subtests.test("a cursor the API never issued"):
        assert_problem(api.get("/inventory", cursor="not-a-cursor!"), 422, "invalid-cursor")


def test_the_sku_prefix_filter_matches_literally_and_case_sensitively(api: Api) -> None:
    # SKUs are case-sensitive codes ("ab-1" and "AB-1" are different products), and "_" is
    # a character in them, not a wildcard: the same filter must give the same rows on every store.
    api.warehouse("WH-1")
    for sku in ("AB-1", "ab-2", "A_1", "AX1"):
        api.product(sku)
        position = api.produce(sku, "WH-1", "1")["position"]

    def skus(prefix: str) -> list[str]:
        rows = api.read("/inventory", sku_prefix=prefix, min_position=position)["items"]
        return sorted(row["sku"] for row in rows)

    assert skus("A_") == ["A_1"]
    assert skus("AB") == ["AB-1"]
    assert skus("ab") == ["ab-2"]


def test_below_safety_filter_lists_only_items_under_their_safety_level(
    grid: tuple[Api, int],
) -> None:
    api, _ = grid
    written = api.ok("/stock/safety-levels", {"sku": "B-1", "warehouse": "WH-1", "level": "100"})

    below = api.read("/inventory", below_safety="true", min_position=written["position"])["items"]
    above = api.read("/inventory", below_safety="false")["items"]

    assert [(r["sku"], r["warehouse"]) for r in below] == [("B-1", "WH-1")]
    assert below[0]["projected"] == "31"
    assert below[0]["safety_stock"] == "100"
    assert len(above) == len(SKUS) * len(WAREHOUSES) - 1


def test_sku_inventory_totals_every_warehouse(grid: tuple[Api, int]) -> None:
    api, _ = grid
    reserved = api.reserve("SO-1", "1.25", sku="AB-2", warehouse="WH-1")
    assert reserved.status_code == 200, reserved.text

    found = api.read("/inventory/AB-2", min_position=reserved.json()["position"])

    assert [row["warehouse"] for row in found["warehouses"]] == ["WH-1", "WH-2"]
    assert found["total"]["physical"] == "43"  # 21 + 22
    assert found["total"]["locked"] == "1.25"
    assert found["total"]["available"] == "41.75"
    for name in ("physical", "locked", "available", "projected"):
        assert Decimal(found["total"][name]) == sum(Decimal(r[name]) for r in found["warehouses"])
    assert_problem(api.get("/inventory/NOPE"), 404, "not-found")


def test_movements_carry_running_balances_and_who_moved_what(stocked: Api) -> None:
    api = stocked
    api.purchase_order()
    api.ok("/purchase-orders/PO-1/approve")
    assert (
        api.reserve("SO-1", "3", x_actor="alice", x_correlation_id="order-SO-1").status_code == 200
    )
    api.ok("/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": "5"}]})
    last = api.ok(
        "/stock/shipment-issues",
        {
            "sku": "SKU-1",
            "warehouse": "WH-1",
            "order_ref": "SO-1",
            "shipment_ref": "SH-1",
            "quantity": "2",
        },
    )

    rows = api.read("/inventory/SKU-1/WH-1/movements", min_position=last["position"])["items"]

    assert [r["kind"] for r in rows] == [
        "FinishedGoodsReceived",
        "InboundExpected",
        "Reserved",
        "Received",
        "IssuedForShipment",
    ]
    balances = [
        (r["physical_after"], r["in_transit_after"], r["locked_after"], r["available_after"])
        for r in rows
    ]
    assert balances == [
        ("10", "0", "0", "10"),
        ("10", "5", "0", "10"),
        ("10", "5", "3", "7"),
        ("15", "0", "3", "12"),
        ("13", "0", "1", "12"),
    ]
    running = [Decimal(0)] * 3
    for row in rows:
        for i, name in enumerate(("physical", "in_transit", "locked")):
            running[i] += Decimal(row[f"d_{name}"])
            assert Decimal(row[f"{name}_after"]) == running[i]
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert (rows[2]["actor"], rows[2]["correlation_id"]) == ("alice", "order-SO-1")
    assert rows[2]["document_ref"] == "SO-1"
    assert rows[1]["document_ref"] == "PO-1"


def test_movements_page_with_the_after_cursor(stocked: Api) -> None:
    for n in range(4):
        last = stocked.reserve(f"SO-{n}", "1").json()["position"]
    everything = stocked.read("/inventory/SKU-1/WH-1/movements", min_position=last)["items"]

    first = stocked.read("/inventory/SKU-1/WH-1/movements", limit=2)
    second = stocked.read("/inventory/SKU-1/WH-1/movements", limit=2, after=first["next_cursor"])
    third = stocked.read("/inventory/SKU-1/WH-1/movements", limit=2, after=second["next_cursor"])

    assert len(everything) == 5
    assert first["items"] + second["items"] + third["items"] == everything
    assert third["next_cursor"] is None


def test_a_safety_gap_raises_one_alert_and_one_requisition_until_it_closes(stocked: Api) -> None:
    api = stocked  # 10 on hand
    gap = api.ok("/stock/safety-levels", {"sku": "SKU-1", "warehouse": "WH-1", "level": "15"})
    still = api.reserve("SO-1", "1")  # projected 9: the same gap, wider
    assert still.status_code == 200

    alerts = api.read("/safety-alerts", min_position=still.json()["position"])["items"]
    requisitions = api.read("/purchase-requisitions", min_position=api.head())["items"]

    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["sku"], alert["warehouse"], alert["status"]) == ("SKU-1", "WH-1", "open")
    assert (alert["safety_stock"], alert["projected"], alert["gap"]) == ("15", "10", "5")
    assert alert["raised_position"] == gap["position"]
    assert len(requisitions) == 1
    assert requisitions[0]["number"] == alert["requisition_number"]
    assert (requisitions[0]["quantity"], requisitions[0]["status"]) == ("5", "open")

    closed = api.produce("SKU-1", "WH-1", "20", ref="MO-2")
    cleared = api.read("/safety-alerts", status="cleared", min_position=closed["position"])["items"]
    assert [a["cleared_position"] for a in cleared] == [closed["position"]]
    assert api.read("/safety-alerts", status="open")["items"] == []
    assert len(api.read("/purchase-requisitions", min_position=api.head())["items"]) == 1
