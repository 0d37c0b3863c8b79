"""Shipments, delivery sign-off and late reservation of short lines over HTTP: the happy path
from approval to delivered, bad input answered as problem+json with nothing stored, and an
Idempotency-Key retry that ships nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem

CUSTOMER = {
    "code": "C-1",
    "name": "Contoso",
    "contacts": [{"name": "Eve", "email": "eve@example.org"}],
    "billing_address": "1 Bill St",
    "shipping_address": "2 Ship Rd",
    "region": "north",
    "payment_terms_days": 30,
    "credit_limit": "5000",
}


@pytest.fixture
def selling(stocked: Api) -> Api:
    """WH-1 with 10 of SKU-1 on hand, SKU-2 with none, and customer C-1."""
    stocked.product("SKU-2")
    stocked.ok("/customers", CUSTOMER, 201)
    return stocked


@pytest.fixture
def approved(selling: Api) -> Api:
    """SO-1 approved (version 6): line 1 reserves 4 of SKU-1, line 2 (3 of SKU-2) is short
    and routed to a purchase requisition."""
    selling.ok(
        "/sales-orders",
        {
            "number": "SO-1", "customer": "C-1", "warehouse": "WH-1", "salesperson": "ann",
            "lines": [
                {"sku": "SKU-1", "quantity": "4", "unit_price": "2.50"},
                {"sku": "SKU-2", "quantity": "3", "unit_price": "1.00"},
            ],
        },
        201,
    )  # fmt: skip
    written = selling.ok("/sales-orders/SO-1/submit")
    assert (written["reserved"], written["short"]) == ({"1": "4"}, {"2": "3"})
    assert (written["stage"], written["requisitions"], written["version"]) == (
        "production_scheduled", ["REQ-SO-1-L2-1"], 6,
    )  # fmt: skip
    return selling


def shipment(
    lines: list[tuple[int, Any]], ref: str | None = "SH-1", **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": [{"line_no": no, "quantity": qty} for no, qty in lines],
        "carrier": "DHL",
        "tracking_number": f"TRK-{ref}",
        **fields,
    }
    if ref is not None:
        body["shipment_ref"] = ref
    return body


def delivery(signed_by: str = "Eve", proof_ref: str = "POD-1") -> dict[str, Any]:
    return {"signed_by": signed_by, "proof_ref": proof_ref}


# -- the happy path ----------------------------------------------------------------------------


def test_an_order_ships_in_two_parts_and_is_delivered_once_both_are_signed_for(
    approved: Api,
) -> None:
    api = approved

    response = api.post("/sales-orders/SO-1/shipments", shipment([(1, "1")], "SH-1"))

    assert response.status_code == 201, response.text
    first = response.json()
    assert (first["shipment_ref"], first["tracking_number"]) == ("SH-1", "TRK-SH-1")
    # A partial shipment moves no stage: only the Shipped event is added to the order.
    assert (first["status"], first["stage"], first["shipped"], first["version"]) == (
        "partially_shipped", "production_scheduled", {"1": "1"}, 7,
    )  # fmt: skip
    assert response.headers["ETag"] == '"7"'
    item = api.stock_item("SKU-1")
    assert (item["physical"], item["locked"], item["reservations"]) == ("9", "3", {"SO-1": "3"})

    # The short line gets stock late, then ships with the rest of line 1.
    api.produce("SKU-2", "WH-1", "3", ref="MO-2")
    covered = api.ok("/sales-orders/SO-1/reserve-shortages")
    assert (covered["reserved"], covered["short"]) == ({"1": "4", "2": "3"}, {})
    assert (covered["status"], covered["stage"]) == ("partially_shipped", "stock_confirmed")
    second = api.ok(
        "/sales-orders/SO-1/shipments",
        shipment([(1, "3"), (2, 3)], "SH-2", carrier="UPS"),
        201,
        if_match=f'"{covered["version"]}"',
    )
    assert (second["status"], second["shipped"]) == ("shipped", {"1": "4", "2": "3"})
    assert second["stage"] == "shipped"

    signed = api.ok("/sales-orders/SO-1/shipments/SH-2/delivery", delivery("Bob", "POD-2"), 200)
    assert signed["status"] == "shipped"
    last = api.ok(
        "/sales-orders/SO-1/shipments/SH-1/delivery",
        {**delivery(), "effective_at": "2026-11-25T09:00:00+00:00"},
        200,
    )
    assert (last["status"], last["stage"]) == ("delivered", "delivered")

    order = api.read("/sales-orders/SO-1")
    assert (order["status"], order["stage"], order["version"]) == (
        "delivered", "delivered", last["version"],
    )  # fmt: skip
    assert (order["shipped_pct"], order["delivered_pct"]) == ("100", "100")
    assert [(x["line_no"], x["reserved"], x["short"], x["shipped"]) for x in order["lines"]] == [
        (1, "4", "0", "4"),
        (2, "3", "0", "3"),
    ]
    sent = {s["shipment_ref"]: s for s in order["shipments"]}
    assert list(sent) == ["SH-1", "SH-2"]
    assert (sent["SH-1"]["carrier"], sent["SH-1"]["tracking_number"]) == ("DHL", "TRK-SH-1")
    assert (sent["SH-2"]["carrier"], sent["SH-2"]["tracking_number"]) == ("UPS", "TRK-SH-2")
    assert (sent["SH-1"]["lines"], sent["SH-2"]["lines"]) == ({"1": "1"}, {"1": "3", "2": "3"})
    assert sent["SH-1"]["delivered"]["signed_by"] == "Eve"
    assert sent["SH-1"]["delivered"]["proof_ref"] == "POD-1"
    assert sent["SH-1"]["delivered"]["at"].startswith("2026-11-25T09:00:00")
    assert (sent["SH-2"]["delivered"]["signed_by"], sent["SH-2"]["delivered"]["proof_ref"]) == (
        "Bob", "POD-2",
    )  # fmt: skip
    assert all(s["shipped_at"] for s in sent.values())
    for sku in ("SKU-1", "SKU-2"):
        item = api.stock_item(sku)
        assert (item["locked"], item["reservations"]) == ("0", {})
    assert api.stock_item("SKU-1")["physical"] == "6"
    assert api.stock_item("SKU-2")["physical"] == "0"


def test_a_shipment_without_a_ref_gets_one(approved: Api) -> None:
    written = approved.ok("/sales-orders/SO-1/shipments", shipment([(1, "4")], None), 201)

    ref = written["shipment_ref"]
    assert ref.startswith("SHP")
    order = approved.read("/sales-orders/SO-1")
    assert [s["shipment_ref"] for s in order["shipments"]] == [ref]
    assert order["status"] == "partially_shipped"  # line 2 is still short


def test_the_movements_show_the_shipment_leaving_the_reservation(approved: Api) -> None:
    written = approved.ok("/sales-orders/SO-1/shipments", shipment([(1, "3")]), 201)

    rows = approved.read("/inventory/SKU-1/WH-1/movements", min_position=written["position"])[
        "items"
    ]

    assert [r["kind"] for r in rows] == ["FinishedGoodsReceived", "Reserved", "IssuedForShipment"]
    issued = rows[-1]
    assert (issued["document_ref"], issued["quantity"], issued["note"]) == (
        "SO-1", "3", "shipment SH-1",
    )  # fmt: skip
    assert (issued["physical_after"], issued["locked_after"], issued["available_after"]) == (
        "7", "1", "6",
    )  # fmt: skip


def test_reserving_shortages_before_stock_arrives_is_a_409_with_nothing_stored(
    approved: Api,
) -> None:
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-1/reserve-shortages"), 409, "shortage-not-covered"
    )
    assert approved.head() == head
    assert approved.read("/sales-orders/SO-1")["lines"][1]["short"] == "3"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "rule"),
    [
        (shipment([(1, "5")]), 409, "shipment-exceeds-reservation"),
        (shipment([(1, "4.000001")]), 409, "shipment-exceeds-reservation"),
        (shipment([(2, "1")]), 409, "shipment-exceeds-reservation"),  # the short line
        (shipment([(1, "1"), (2, "1")]), 409, "shipment-exceeds-reservation"),
        (shipment([(3, "1")]), 409, "no-such-line"),
        (shipment([(1, "0")]), 422, "invalid-input"),
        (shipment([(1, 0)]), 422, "invalid-input"),
        (shipment([(1, "-1")]), 422, "invalid-input"),
        (shipment([(1, 1.5)]), 422, "invalid-input"),
        (shipment([(1, 2.0)]), 422, "invalid-input"),
        (shipment([(1, "0.0000001")]), 422, "invalid-input"),
        (shipment([(1, "1"), (1, "1")]), 422, "duplicate-line"),
        (shipment([(0, "1")]), 422, "invalid-input"),
        (shipment([]), 422, "invalid-input"),
        ({k: v for k, v in shipment([(1, "1")]).items() if k != "carrier"}, 422, "invalid-input"),
        (shipment([(1, "1")], carrier=""), 422, "invalid-input"),
        (shipment([(1, "1")], carrier="   "), 422, "invalid-input"),
        ({k: v for k, v in shipment([(1, "1")]).items() if k != "tracking_number"}, 422,
         "invalid-input"),
        (shipment([(1, "1")], "SH 1"), 422, "invalid-input"),
        (shipment([(1, "1")], colour="red"), 422, "invalid-input"),
        (shipment([(1, "1")], effective_at="2026-11-25T09:00:00"), 422, "invalid-input"),
    ],
    ids=[
        "more-than-reserved", "a-millionth-too-many", "short-line", "one-bad-line",
        "no-such-line", "zero-string", "zero-integer", "negative", "json-float",
        "json-float-whole", "seven-decimals", "duplicate-line", "line-zero", "no-lines",
        "missing-carrier", "empty-carrier", "blank-carrier", "missing-tracking",
        "bad-ref", "unknown-field", "naive-time",
    ],
)  # fmt: skip
def test_a_bad_shipment_is_a_problem_and_ships_nothing(
    approved: Api, body: dict[str, Any], status: int, rule: str
) -> None:
    head = approved.head()

    assert_problem(approved.post("/sales-orders/SO-1/shipments", body), status, rule)

    assert approved.head() == head
    order = approved.read("/sales-orders/SO-1")
    assert (order["status"], order["shipments"], order["version"]) == ("approved", [], 6)
    item = approved.stock_item("SKU-1")
    assert (item["physical"], item["locked"]) == ("10", "4")


def test_shipping_an_unknown_or_unapproved_order_is_refused_with_nothing_stored(
    approved: Api,
) -> None:
    approved.ok(
        "/sales-orders",
        {"number": "SO-2", "customer": "C-1", "warehouse": "WH-1", "salesperson": "ann",
         "lines": [{"sku": "SKU-1", "quantity": "1", "unit_price": "1"}]},
        201,
    )  # fmt: skip
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-404/shipments", shipment([(1, "1")])), 404, "not-found"
    )
    assert_problem(
        approved.post("/sales-orders/SO-2/shipments", shipment([(1, "1")])),
        409, "sales-order-status",
    )  # fmt: skip
    assert approved.head() == head


def test_a_duplicate_shipment_ref_or_stale_if_match_is_refused_with_nothing_stored(
    approved: Api,
) -> None:
    approved.ok("/sales-orders/SO-1/shipments", shipment([(1, "1")], "SH-1"), 201)
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-1/shipments", shipment([(1, "1")], "SH-1")),
        409, "duplicate-shipment",
    )  # fmt: skip
    stale = approved.post(
        "/sales-orders/SO-1/shipments", shipment([(1, "1")], "SH-2"), if_match='"6"'
    )
    assert assert_problem(stale, 412, "stale-version")["current_version"] == 7
    assert approved.head() == head
    assert approved.stock_item("SKU-1")["locked"] == "3"


def test_cancelling_or_amending_a_shipped_order_is_refused_with_nothing_stored(
    approved: Api,
) -> None:
    approved.ok("/sales-orders/SO-1/shipments", shipment([(1, "2")]), 201)
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-1/cancel", {"reason": "too late"}),
        409, "sales-order-status",
    )  # fmt: skip
    assert_problem(
        approved.post("/sales-orders/SO-1/amend", {"promised_date": "2026-12-24"}),
        409, "sales-order-status",
    )  # fmt: skip
    assert approved.head() == head
    assert approved.stock_item("SKU-1")["reservations"] == {"SO-1": "2"}


def test_confirming_delivery_of_an_unshipped_order_is_a_409_with_nothing_stored(
    approved: Api,
) -> None:
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-1/shipments/SH-1/delivery", delivery()),
        409, "delivery-without-shipment",
    )  # fmt: skip
    assert_problem(
        approved.post("/sales-orders/SO-404/shipments/SH-1/delivery", delivery()),
        404, "not-found",
    )  # fmt: skip
    assert_problem(
        approved.post("/sales-orders/SO-1/shipments/SH-1/delivery", {"signed_by": ""}),
        422, "invalid-input",
    )  # fmt: skip
    assert approved.head() == head
    assert approved.read("/sales-orders/SO-1")["status"] == "approved"


def test_confirming_a_delivery_twice_is_a_409_with_nothing_stored(approved: Api) -> None:
    approved.ok("/sales-orders/SO-1/shipments", shipment([(1, "4")]), 201)
    approved.ok("/sales-orders/SO-1/shipments/SH-1/delivery", delivery(), 200)
    head = approved.head()

    assert_problem(
        approved.post("/sales-orders/SO-1/shipments/SH-1/delivery", delivery("Bob")),
        409, "delivery-already-confirmed",
    )  # fmt: skip
    assert approved.head() == head
    sent = approved.read("/sales-orders/SO-1")["shipments"][0]
    assert sent["delivered"]["signed_by"] == "Eve"


# -- idempotency -------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["SH-1", None], ids=["given-ref", "generated-ref"])
def test_a_retried_shipment_returns_the_first_result_and_ships_nothing_twice(
    approved: Api, ref: str | None
) -> None:
    body = shipment([(1, "1")], ref)
    first = approved.post("/sales-orders/SO-1/shipments", body, idempotency_key="ship-SO-1-a")
    assert first.status_code == 201, first.text
    head = approved.head()

    retried = approved.post("/sales-orders/SO-1/shipments", body, idempotency_key="ship-SO-1-a")

    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in first.headers
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert {**retried.json(), "position": None} == {**first.json(), "position": None}
    assert approved.head() == head
    order = approved.read("/sales-orders/SO-1")
    assert [s["shipment_ref"] for s in order["shipments"]] == [first.json()["shipment_ref"]]
    assert order["lines"][0]["shipped"] == "1"
    item = approved.stock_item("SKU-1")
    assert (item["physical"], item["locked"]) == ("9", "3")
    other = shipment([(1, "2")], ref)
    reused = approved.post("/sales-orders/SO-1/shipments", other, idempotency_key="ship-SO-1-a")
    assert_problem(reused, 422, "idempotency-key-reused")
    assert approved.head() == head
