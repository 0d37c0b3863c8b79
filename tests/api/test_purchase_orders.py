"""Purchase orders: draft, approve (stock in transit), receive, cancel; ETag and If-Match."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem


@pytest.fixture
def buying(api: Api) -> Api:
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.product("SKU-2")
    return api


def draft(api: Api, number: str = "PO-1", **fields: Any) -> dict[str, Any]:
    body = {
        "number": number,
        "supplier": "Acme",
        "warehouse": "WH-1",
        "lines": [
            {"sku": "SKU-1", "quantity": "100", "unit_cost": "2.5"},
            {"sku": "SKU-2", "quantity": 40},
        ],
        **fields,
    }
    return api.ok("/purchase-orders", body, 201)


def test_drafting_a_purchase_order_makes_it_readable_and_listed(buying: Api) -> None:
    response = buying.post(
        "/purchase-orders",
        {
            "number": "PO-1",
            "supplier": "Acme",
            "warehouse": "WH-1",
            "lines": [{"sku": "SKU-1", "quantity": "100", "unit_cost": "2.5"}],
            "expected_at": "2026-12-01T09:00:00+00:00",
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/purchase-orders/PO-1"
    written = response.json()

    order = buying.get("/purchase-orders/PO-1")
    listed = buying.read("/purchase-orders", min_position=written["position"])

    assert written["status"] == "draft"
    assert written["version"] == 1
    assert order.headers["ETag"] == '"1"'
    assert order.json()["status"] == "draft"
    assert order.json()["lines"][0]["quantity"] == "100"
    assert order.json()["lines"][0]["open"] == "100"
    assert order.json()["receipt_tolerance"] == "0.05"
    assert [(o["number"], o["status"]) for o in listed["items"]] == [("PO-1", "draft")]
    assert_problem(buying.get("/purchase-orders/PO-404"), 404, "not-found")


def test_a_purchase_order_without_a_number_gets_one(buying: Api) -> None:
    written = buying.ok(
        "/purchase-orders",
        {"supplier": "Acme", "warehouse": "WH-1", "lines": [{"sku": "SKU-1", "quantity": "1"}]},
        201,
    )

    assert buying.read(f"/purchase-orders/{written['number']}")["supplier"] == "Acme"


def test_listing_purchase_orders_filters_by_status(buying: Api) -> None:
    draft(buying, "PO-1")
    draft(buying, "PO-2")
    approved = buying.ok("/purchase-orders/PO-2/approve")

    drafts = buying.read("/purchase-orders", status="draft", min_position=approved["position"])
    approved_list = buying.read("/purchase-orders", status="approved")

    assert [o["number"] for o in drafts["items"]] == ["PO-1"]
    assert [o["number"] for o in approved_list["items"]] == ["PO-2"]


def test_approving_puts_every_line_in_transit(buying: Api) -> None:
    draft(buying)

    written = buying.ok("/purchase-orders/PO-1/approve", if_match='"1"')

    assert written["status"] == "approved"
    assert written["version"] == 2
    assert buying.read("/purchase-orders/PO-1")["status"] == "approved"
    item = buying.stock_item("SKU-1")
    assert item["in_transit"] == "100"
    assert item["physical"] == "0"
    assert item["inbound"] == {"PO-1": "100"}
    inventory = buying.read("/inventory/SKU-2", min_position=written["position"])
    assert inventory["total"]["in_transit"] == "40"


def test_approving_twice_or_an_unknown_order_is_refused(buying: Api) -> None:
    draft(buying)
    buying.ok("/purchase-orders/PO-1/approve")
    head = buying.head()

    assert_problem(buying.post("/purchase-orders/PO-1/approve"), 409, "purchase-order-status")
    assert_problem(buying.post("/purchase-orders/PO-404/approve"), 404, "not-found")
    assert_problem(buying.post("/purchase-orders/PO-404/cancel", {"reason": "x"}), 404, "not-found")
    assert buying.head() == head


def test_receiving_moves_goods_from_in_transit_to_physical(buying: Api) -> None:
    draft(buying)
    buying.ok("/purchase-orders/PO-1/approve")

    partial = buying.ok(
        "/purchase-orders/PO-1/receipts",
        {"receipt_ref": "GRN-1", "lines": [{"line_no": 1, "quantity": "60"}]},
    )
    rest = buying.ok(
        "/purchase-orders/PO-1/receipts",
        {"lines": [{"line_no": 1, "quantity": "40"}, {"line_no": 2, "quantity": "40"}]},
    )

    assert partial["status"] == "partially_received"
    assert partial["receipt_ref"] == "GRN-1"
    assert rest["status"] == "received"
    item = buying.stock_item("SKU-1")
    assert (item["physical"], item["in_transit"], item["inbound"]) == ("100", "0", {})
    order = buying.read("/purchase-orders/PO-1")
    assert order["receipts"] == ["GRN-1", rest["receipt_ref"]]
    assert [line["open"] for line in order["lines"]] == ["0", "0"]
    listed = buying.read("/purchase-orders", status="received", min_position=rest["position"])
    assert [o["number"] for o in listed["items"]] == ["PO-1"]


def test_receiving_within_tolerance_is_accepted_and_beyond_it_refused(buying: Api) -> None:
    draft(buying)  # 100 of SKU-1 on line 1; the default tolerance is 5 %
    buying.ok("/purchase-orders/PO-1/approve")
    head = buying.head()

    beyond = buying.post(
        "/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": "105.000001"}]}
    )

    assert_problem(beyond, 409, "over-receipt")
    assert buying.head() == head
    assert buying.stock_item("SKU-1")["physical"] == "0"
    within = buying.ok(
        "/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": "105"}]}
    )
    assert buying.stock_item("SKU-1")["physical"] == "105"
    assert within["status"] == "partially_received"  # line 2 is still open


def test_a_receipt_naming_a_line_twice_is_refused(buying: Api) -> None:
    draft(buying)
    buying.ok("/purchase-orders/PO-1/approve")
    head = buying.head()

    response = buying.post(
        "/purchase-orders/PO-1/receipts",
        {"lines": [{"line_no": 1, "quantity": "1"}, {"line_no": 1, "quantity": "2"}]},
    )

    assert_problem(response, 422, "duplicate-line")
    assert buying.head() == head


def test_cancelling_an_approved_order_withdraws_what_is_still_in_transit(buying: Api) -> None:
    draft(buying)
    buying.ok("/purchase-orders/PO-1/approve")
    buying.ok("/purchase-orders/PO-1/receipts", {"lines": [{"line_no": 1, "quantity": "30"}]})

    written = buying.ok("/purchase-orders/PO-1/cancel", {"reason": "supplier out of stock"})

    assert written["status"] == "cancelled"
    item = buying.stock_item("SKU-1")
    assert (item["physical"], item["in_transit"]) == ("30", "0")
    assert buying.stock_item("SKU-2")["in_transit"] == "0"
    listed = buying.read("/purchase-orders", status="cancelled", min_position=written["position"])
    assert [o["number"] for o in listed["items"]] == ["PO-1"]


# -- ETag and If-Match ------------------------------------------------------------------------


def test_approving_with_a_stale_if_match_is_refused_with_the_current_etag(buying: Api) -> None:
    draft(buying)
    etag = buying.get("/purchase-orders/PO-1").headers["ETag"]
    buying.ok("/purchase-orders/PO-1/cancel", {"reason": "changed our mind"}, if_match=etag)
    head = buying.head()

    response = buying.post("/purchase-orders/PO-1/approve", if_match=etag)

    problem = assert_problem(response, 412, "stale-version")
    assert response.headers["ETag"] == '"2"'
    assert problem["current_version"] == 2
    assert buying.head() == head
    assert buying.read("/purchase-orders/PO-1")["status"] == "cancelled"


def test_approving_with_the_current_etag_succeeds_after_a_stale_one_was_refused(
    buying: Api,
) -> None:
    draft(buying)
    head = buying.head()

    stale = buying.post("/purchase-orders/PO-1/approve", if_match='"7"')
    assert_problem(stale, 412, "stale-version")
    assert buying.head() == head

    response = buying.post("/purchase-orders/PO-1/approve", if_match=stale.headers["ETag"])
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert buying.get("/purchase-orders/PO-1").headers["ETag"] == '"2"'


def test_weak_and_wildcard_if_match_are_accepted(buying: Api) -> None:
    draft(buying, "PO-1")
    draft(buying, "PO-2")

    assert buying.ok("/purchase-orders/PO-1/approve", if_match='W/"1"')["status"] == "approved"
    assert buying.ok("/purchase-orders/PO-2/approve", if_match="*")["status"] == "approved"


def test_a_malformed_if_match_is_refused(buying: Api, subtests: pytest.Subtests) -> None:
    draft(buying)
    head = buying.head()

    for if_match in ("1", "v1", '"one"', '"1", "2"', '"-1"'):
        with subtests.test(if_match=if_match):
            response = buying.post("/purchase-orders/PO-1/approve", if_match=if_match)
            assert_problem(response, 422, "invalid-if-match")
    assert buying.head() == head
    assert buying.read("/purchase-orders/PO-1")["status"] == "draft"
