"""Stock movements outside purchasing: counts, transfers, production, shipments, safety levels."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem


def test_a_stock_item_is_read_as_recorded_now_and_one_without_history_is_not_found(
    stocked: Api,
) -> None:
    stocked.warehouse("WH-2")

    response = stocked.get("/stock-items/SKU-1/WH-1")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'  # opened, then the finished-goods receipt
    item = response.json()
    assert (item["physical"], item["locked"], item["available"]) == ("10", "0", "10")
    assert_problem(stocked.get("/stock-items/SKU-1/WH-2"), 404, "not-found")
    assert_problem(stocked.get("/stock-items/SKU-1/WH-404"), 404, "not-found")
    assert_problem(stocked.get("/stock-items/SKU-404/WH-1"), 404, "not-found")


def test_receiving_finished_goods_adds_physical_stock(stocked: Api) -> None:
    written = stocked.produce("SKU-1", "WH-1", "2.5", ref="MO-2")

    assert written["physical"] == "12.5"
    assert written["production_ref"] == "MO-2"
    assert stocked.stock_item()["physical"] == "12.5"


def test_issuing_material_takes_physical_stock(stocked: Api) -> None:
    written = stocked.ok(
        "/stock/material-issues",
        {"sku": "SKU-1", "warehouse": "WH-1", "production_ref": "MO-9", "quantity": "4"},
    )

    assert written["physical"] == "6"
    assert stocked.stock_item()["available"] == "6"


def test_issuing_material_out_of_reserved_stock_is_refused(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "8").status_code == 200
    head = stocked.head()

    response = stocked.post(
        "/stock/material-issues",
        {"sku": "SKU-1", "warehouse": "WH-1", "production_ref": "MO-9", "quantity": "3"},
    )

    assert_problem(response, 409, "material-issue-exceeds-available")
    assert stocked.head() == head


def test_issuing_for_shipment_takes_physical_and_reserved_stock(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "6").status_code == 200

    written = stocked.ok(
        "/stock/shipment-issues",
        {
            "sku": "SKU-1",
            "warehouse": "WH-1",
            "order_ref": "SO-1",
            "shipment_ref": "SH-1",
            "quantity": "4",
        },
    )

    assert (written["physical"], written["locked"], written["available"]) == ("6", "2", "4")
    assert stocked.stock_item()["reservations"] == {"SO-1": "2"}


def test_shipping_more_than_the_order_reserved_is_refused(stocked: Api) -> None:
    assert stocked.reserve("SO-1", "2").status_code == 200
    head = stocked.head()

    response = stocked.post(
        "/stock/shipment-issues",
        {
            "sku": "SKU-1",
            "warehouse": "WH-1",
            "order_ref": "SO-1",
            "shipment_ref": "SH-1",
            "quantity": "3",
        },
    )

    assert_problem(response, 409, "issue-exceeds-reservation")
    assert stocked.head() == head


def test_a_count_adjusts_physical_stock_by_the_difference(stocked: Api) -> None:
    written = stocked.ok(
        "/stock/counts",
        {
            "sku": "SKU-1",
            "warehouse": "WH-1",
            "counted": "7",
            "reason": "cycle count",
            "count_ref": "CNT-1",
        },
        if_match='"2"',
    )

    assert written["difference"] == "-3"
    assert written["physical"] == "7"
    movements = stocked.read("/inventory/SKU-1/WH-1/movements", min_position=written["position"])
    assert movements["items"][-1]["kind"] == "Counted"
    assert movements["items"][-1]["note"] == "cycle count"
    assert movements["items"][-1]["d_physical"] == "-3"


def test_a_count_on_a_stale_version_is_refused(stocked: Api) -> None:
    head = stocked.head()

    response = stocked.post(
        "/stock/counts",
        {"sku": "SKU-1", "warehouse": "WH-1", "counted": "7", "reason": "cycle count"},
        if_match='"1"',
    )

    assert_problem(response, 412, "stale-version")
    assert response.headers["ETag"] == '"2"'
    assert stocked.head() == head


def test_a_transfer_leaves_one_warehouse_and_lands_in_the_other(stocked: Api) -> None:
    stocked.warehouse("WH-2")

    sent = stocked.ok(
        "/stock/transfers",
        {
            "sku": "SKU-1",
            "from_warehouse": "WH-1",
            "to_warehouse": "WH-2",
            "quantity": "4",
            "transfer_ref": "TRF-1",
        },
        201,
    )
    in_transit = stocked.stock_item("SKU-1", "WH-2")
    landed = stocked.ok(
        "/stock/transfers/TRF-1/receipts", {"sku": "SKU-1", "warehouse": "WH-2", "quantity": "3"}
    )
    rest = stocked.ok("/stock/transfers/TRF-1/receipts", {"sku": "SKU-1", "warehouse": "WH-2"})

    assert sent["transfer_ref"] == "TRF-1"
    assert sent["from"]["physical"] == "6"
    assert sent["to"]["in_transit"] == "4"
    assert in_transit["inbound"] == {"TRF-1": "4"}
    assert (landed["received"], landed["physical"], landed["in_transit"]) == ("3", "3", "1")
    assert (rest["received"], rest["physical"], rest["in_transit"]) == ("1", "4", "0")
    totals = stocked.read("/inventory/SKU-1", min_position=rest["position"])["total"]
    assert (totals["physical"], totals["in_transit"]) == ("10", "0")


def test_a_transfer_to_the_same_warehouse_or_an_over_receipt_of_one_is_refused(
    stocked: Api,
) -> None:
    stocked.warehouse("WH-2")
    stocked.ok(
        "/stock/transfers",
        {
            "sku": "SKU-1",
            "from_warehouse": "WH-1",
            "to_warehouse": "WH-2",
            "quantity": "4",
            "transfer_ref": "TRF-1",
        },
        201,
    )
    head = stocked.head()

    response = stocked.post(
        "/stock/transfers/TRF-1/receipts", {"sku": "SKU-1", "warehouse": "WH-2", "quantity": "5"}
    )

    same = stocked.post(
        "/stock/transfers",
        {"sku": "SKU-1", "from_warehouse": "WH-1", "to_warehouse": "WH-1", "quantity": "1"},
    )

    assert_problem(response, 409, "transfer-receipt-exceeds-in-transit")
    assert_problem(same, 422, "invalid-input")
    assert stocked.head() == head


def test_setting_a_safety_level_records_it_on_the_item(stocked: Api) -> None:
    written = stocked.ok(
        "/stock/safety-levels", {"sku": "SKU-1", "warehouse": "WH-1", "level": "4"}
    )

    assert written["safety_stock"] == "4"
    assert stocked.stock_item()["safety_stock"] == "4"
    row = stocked.read("/inventory", min_position=written["position"])["items"][0]
    assert (row["safety_stock"], row["below_safety"]) == ("4", False)
