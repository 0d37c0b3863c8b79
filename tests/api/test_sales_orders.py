"""Customers and sales orders over HTTP: create, read with ETag, approve (reserve), amend,
cancel; If-Match and bad input answered as problem+json with nothing stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem

CUSTOMER = {
    "code": "C-1",
    "name": "Contoso",
    "contacts": [{"name": "Eve", "email": "eve@example.org", "phone": "+31 20 123"}],
    "billing_address": "1 Bill St",
    "shipping_address": "2 Ship Rd",
    "region": "north",
    "payment_terms_days": 45,
    "credit_limit": "5000.50",
}


@pytest.fixture
def selling(stocked: Api) -> Api:
    """WH-1 with 10 of SKU-1 on hand, SKU-2 with none, and customer C-1."""
    stocked.product("SKU-2")
    stocked.ok("/customers", CUSTOMER, 201)
    return stocked


def order_body(number: str | None = "SO-1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": "C-1",
        "warehouse": "WH-1",
        "salesperson": "ann",
        "lines": [
            {"sku": "SKU-1", "quantity": "4", "unit_price": "2.50"},
            {"sku": "SKU-2", "quantity": 3, "unit_price": "0.05", "discount": "0.1"},
        ],
        **fields,
    }
    if number:
        body["number"] = number
    return body


def take(api: Api, number: str = "SO-1", **fields: Any) -> dict[str, Any]:
    return api.ok("/sales-orders", order_body(number, **fields), 201)


# -- customers --------------------------------------------------------------------------------


def test_registering_a_customer_makes_it_readable_with_an_etag(api: Api) -> None:
    response = api.post("/customers", CUSTOMER)

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/customers/C-1"
    assert response.json()["version"] == 1
    read = api.get("/customers/C-1")
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'
    body = read.json()
    assert {k: body[k] for k in CUSTOMER} == {**CUSTOMER, "credit_limit": "5000.5"}
    assert (body["currency"], body["status"], body["version"]) == ("EUR", "active", 1)


def test_a_customer_code_taken_twice_or_unknown_is_refused(api: Api) -> None:
    api.ok("/customers", CUSTOMER, 201)
    head = api.head()

    assert_problem(api.post("/customers", {**CUSTOMER, "name": "Other"}), 409, "already-exists")
    assert_problem(api.get("/customers/C-404"), 404, "not-found")
    assert api.head() == head
    assert api.read("/customers/C-1")["name"] == "Contoso"


@pytest.mark.parametrize(
    "change",
    [
        {"payment_terms_days": 366},
        {"payment_terms_days": -1},
        {"credit_limit": 100.5},
        {"credit_limit": "-1"},
        {"currency": "eur"},
        {"code": "C 1"},
        {"name": ""},
    ],
)
def test_a_malformed_customer_is_refused_with_nothing_stored(
    api: Api, change: dict[str, Any]
) -> None:
    head = api.head()

    assert_problem(api.post("/customers", {**CUSTOMER, **change}), 422, "invalid-input")
    assert api.head() == head


# -- taking and reading orders ----------------------------------------------------------------


def test_taking_an_order_answers_201_with_its_location_and_total(selling: Api) -> None:
    response = selling.post("/sales-orders", order_body())

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/sales-orders/SO-1"
    assert response.headers["ETag"] == '"1"'
    written = response.json()
    # 4 × 2.50 = 10.00; 3 × 0.05 × 0.9 = 0.135 → 0.14 (half-up to the cent)
    assert (written["number"], written["status"], written["total"]) == ("SO-1", "created", "10.14")


def test_an_order_without_a_number_gets_one_and_its_location(selling: Api) -> None:
    response = selling.post("/sales-orders", order_body(None))

    assert response.status_code == 201, response.text
    number = response.json()["number"]
    assert number.startswith("SO-")
    assert response.headers["Location"] == f"/sales-orders/{number}"
    assert selling.read(f"/sales-orders/{number}")["number"] == number


def test_an_order_reads_back_with_its_lines_amounts_and_etag(selling: Api) -> None:
    take(
        selling, requirements={"carrier": "DHL", "notes": "ring twice"},
        requested_delivery="2026-12-01", promised_date="2026-12-03",
    )  # fmt: skip

    response = selling.get("/sales-orders/SO-1")

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    order = response.json()
    assert (order["status"], order["customer"], order["warehouse"]) == ("created", "C-1", "WH-1")
    assert (order["currency"], order["total"], order["region"]) == ("EUR", "10.14", "north")
    # Margin at today's standard cost (this caller may see costs): amount − quantity × cost.
    costs = {line["sku"]: Decimal(line.pop("standard_cost")) for line in order["lines"]}
    margins = [Decimal(line.pop("margin")) for line in order["lines"]]
    assert margins == [
        Decimal(line["amount"]) - Decimal(line["quantity"]) * costs[line["sku"]]
        for line in order["lines"]
    ]
    assert Decimal(order["margin"]) == sum(margins)
    assert order["lines"] == [
        {"line_no": 1, "sku": "SKU-1", "quantity": "4", "unit_price": "2.5", "discount": "0",
         "amount": "10", "reserved": "0", "short": "0", "shipped": "0"},
        {"line_no": 2, "sku": "SKU-2", "quantity": "3", "unit_price": "0.05", "discount": "0.1",
         "amount": "0.14", "reserved": "0", "short": "0", "shipped": "0"},
    ]  # fmt: skip
    assert order["requirements"] == {"carrier": "DHL", "notes": "ring twice"}
    assert (order["requested_delivery"], order["promised_date"]) == ("2026-12-01", "2026-12-03")
    assert (order["channel"], order["external_ref"], order["version"]) == ("api", None, 1)
    assert_problem(selling.get("/sales-orders/SO-404"), 404, "not-found")


def test_the_same_external_ref_again_answers_200_with_the_first_order(selling: Api) -> None:
    first = take(selling, "SO-1", channel="crm", external_ref="CRM-1")
    head = selling.head()

    response = selling.post(
        "/sales-orders", order_body("SO-2", channel="crm", external_ref="CRM-1")
    )

    assert response.status_code == 200, response.text
    assert response.json()["number"] == first["number"] == "SO-1"
    assert response.json()["duplicate_of_external_ref"] == "CRM-1"
    assert response.headers["Location"] == "/sales-orders/SO-1"
    assert selling.head() == head
    assert_problem(selling.get("/sales-orders/SO-2"), 404, "not-found")


def test_the_same_external_ref_on_another_channel_is_a_new_order(selling: Api) -> None:
    take(selling, "SO-1", channel="crm", external_ref="X-1")

    second = take(selling, "SO-2", channel="shop", external_ref="X-1")

    assert second["number"] == "SO-2"
    assert selling.read("/sales-orders/SO-2")["channel"] == "shop"


# -- approve, amend, cancel -----------------------------------------------------------------


def test_approving_reserves_what_is_on_hand_and_routes_the_rest_to_purchasing(
    selling: Api,
) -> None:
    take(selling)

    written = selling.ok("/sales-orders/SO-1/submit", if_match='"1"')

    # Submitted, to approved, stock allocated, to production scheduled, shortage routed.
    assert (written["status"], written["stage"], written["version"]) == (
        "approved", "production_scheduled", 6,
    )  # fmt: skip
    assert (written["reserved"], written["short"]) == ({"1": "4"}, {"2": "3"})
    assert (written["production"], written["requisitions"]) == ([], ["REQ-SO-1-L2-1"])
    assert written["awaiting_role"] is None
    order = selling.read("/sales-orders/SO-1")
    assert [(x["reserved"], x["short"]) for x in order["lines"]] == [("4", "0"), ("0", "3")]
    assert (order["stage"], order["stage_role"], order["version"]) == (
        "production_scheduled", "production", 6,
    )  # fmt: skip
    assert order["requisitions"] == [{"number": "REQ-SO-1-L2-1", "line_no": 2}]
    assert order["production"] == []
    assert order["approval"]["submitted"] is True
    assert (order["approval"]["levels"], order["approval"]["awaiting_role"]) == ([], None)
    requisitions = selling.read(
        "/purchase-requisitions", status="open", min_position=written["position"]
    )
    assert [(r["number"], r["sku"], r["quantity"]) for r in requisitions["items"]] == [
        ("REQ-SO-1-L2-1", "SKU-2", "3"),
    ]
    item = selling.stock_item("SKU-1")
    assert (item["locked"], item["available"], item["reservations"]) == ("4", "6", {"SO-1": "4"})
    inventory = selling.read("/inventory/SKU-1", min_position=written["position"])
    assert inventory["total"]["locked"] == "4"


def test_approving_twice_is_refused_with_nothing_stored(selling: Api) -> None:
    take(selling)
    selling.ok("/sales-orders/SO-1/submit")
    head = selling.head()

    assert_problem(selling.post("/sales-orders/SO-1/submit"), 409, "sales-order-status")
    assert_problem(selling.post("/sales-orders/SO-404/submit"), 404, "not-found")
    assert selling.head() == head
    assert selling.stock_item("SKU-1")["locked"] == "4"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sales-orders/SO-1/submit", None),
        ("/sales-orders/SO-1/cancel", {"reason": "lost"}),
        ("/sales-orders/SO-1/amend", {"promised_date": "2026-12-24"}),
    ],
)
def test_a_stale_if_match_is_refused_with_412_and_nothing_stored(
    selling: Api, path: str, body: Any
) -> None:
    take(selling)
    selling.ok("/sales-orders/SO-1/amend", {"requested_delivery": "2026-12-20"}, if_match='"1"')
    head = selling.head()

    response = selling.post(path, body, if_match='"1"')

    problem = assert_problem(response, 412, "stale-version")
    assert problem["current_version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert selling.head() == head
    order = selling.read("/sales-orders/SO-1")
    assert (order["status"], order["version"], order["promised_date"]) == ("created", 2, None)
    assert selling.stock_item("SKU-1")["locked"] == "0"


def test_amending_an_approved_orders_lines_releases_its_stock_and_reserves_them_again(
    selling: Api,
) -> None:
    take(selling)
    submitted = selling.ok("/sales-orders/SO-1/submit")
    assert submitted["version"] == 6

    written = selling.ok(
        "/sales-orders/SO-1/amend",
        {"lines": [{"sku": "SKU-1", "quantity": "7", "unit_price": "2.50"}]},
        if_match='"6"',
    )

    # Released (4 of SKU-1, the SKU-2 requisition closed), sent back, approved again at
    # once (no approval levels) and 7 reserved, all in one save.
    assert (written["status"], written["stage"]) == ("approved", "stock_confirmed")
    assert (written["reserved"], written["short"]) == ({"1": "7"}, {})
    assert written["requisitions"] == ["REQ-SO-1-L2-1"]
    assert written["total"] == "17.50"
    item = selling.stock_item("SKU-1")
    assert (item["locked"], item["available"], item["reservations"]) == (
        "7", "3", {"SO-1": "7"},
    )  # fmt: skip
    requisitions = selling.read("/purchase-requisitions", min_position=written["position"])
    assert [(r["number"], r["status"]) for r in requisitions["items"]] == [
        ("REQ-SO-1-L2-1", "closed"),
    ]
    assert_problem(selling.post("/sales-orders/SO-1/submit"), 409, "sales-order-status")


def test_an_empty_amendment_is_refused_with_nothing_stored(selling: Api) -> None:
    take(selling)
    head = selling.head()

    assert_problem(selling.post("/sales-orders/SO-1/amend", {}), 422, "invalid-input")
    assert_problem(selling.post("/sales-orders/SO-1/amend", {"lines": []}), 422, "invalid-input")
    assert selling.head() == head


def test_cancelling_releases_the_stock_and_a_second_cancel_is_refused(selling: Api) -> None:
    take(selling)
    selling.ok("/sales-orders/SO-1/submit")

    written = selling.ok("/sales-orders/SO-1/cancel", {"reason": "customer withdrew"})

    assert (written["status"], written["stage"], written["reserved"]) == (
        "cancelled", "cancelled", {},
    )  # fmt: skip
    item = selling.stock_item("SKU-1")
    assert (item["locked"], item["available"], item["reservations"]) == ("0", "10", {})
    # The requisition raised for the short line is closed in the same save.
    requisitions = selling.read("/purchase-requisitions", min_position=written["position"])
    assert [(r["number"], r["status"]) for r in requisitions["items"]] == [
        ("REQ-SO-1-L2-1", "closed"),
    ]
    head = selling.head()
    assert_problem(
        selling.post("/sales-orders/SO-1/cancel", {"reason": "again"}), 409, "sales-order-status"
    )
    assert_problem(selling.post("/sales-orders/SO-1/submit"), 409, "sales-order-status")
    assert_problem(
        selling.post("/sales-orders/SO-1/amend", {"promised_date": "2026-12-24"}),
        409, "sales-order-status",
    )  # fmt: skip
    assert_problem(selling.post("/sales-orders/SO-1/cancel", {}), 422, "invalid-input")
    assert selling.head() == head


# -- bad input ---------------------------------------------------------------------------------


def line(**fields: Any) -> list[dict[str, Any]]:
    return [{"sku": "SKU-1", "quantity": "1", "unit_price": "9.99", **fields}]


@pytest.mark.parametrize(
    ("change", "status", "rule"),
    [
        ({"customer": "C-404"}, 404, "not-found"),
        ({"warehouse": "WH-404"}, 404, "not-found"),
        ({"lines": line(sku="SKU-404")}, 404, "not-found"),
        ({"lines": line(quantity="0")}, 422, "invalid-input"),
        ({"lines": line(quantity=0)}, 422, "invalid-input"),
        ({"lines": line(quantity="-2")}, 422, "invalid-input"),
        ({"lines": line(quantity=1.5)}, 422, "invalid-input"),
        ({"lines": line(unit_price=9.99)}, 422, "invalid-input"),
        ({"lines": line(unit_price="9.999")}, 422, "invalid-input"),
        ({"lines": line(unit_price="100.5"), "currency": "JPY"}, 422, "invalid-input"),
        ({"lines": line(unit_price="-1")}, 422, "invalid-input"),
        ({"lines": line(discount="1")}, 422, "invalid-input"),
        ({"lines": line(discount="-0.1")}, 422, "invalid-input"),
        ({"lines": []}, 422, "invalid-input"),
        ({"salesperson": ""}, 422, "invalid-input"),
        ({"requirements": {"colour": "red"}}, 422, "invalid-input"),
        ({"currency": "euro"}, 422, "invalid-input"),
    ],
)
def test_an_order_with_bad_input_is_a_problem_and_stores_nothing(
    selling: Api, change: dict[str, Any], status: int, rule: str
) -> None:
    head = selling.head()

    assert_problem(selling.post("/sales-orders", order_body("SO-9", **change)), status, rule)
    assert selling.head() == head
    assert_problem(selling.get("/sales-orders/SO-9"), 404, "not-found")


def test_a_bad_price_names_the_currency_it_breaks(selling: Api) -> None:
    problem = assert_problem(
        selling.post("/sales-orders", order_body("SO-9", lines=line(unit_price="9.999"))),
        422, "invalid-input",
    )  # fmt: skip

    assert "EUR" in problem["detail"]


def test_a_line_worth_more_than_the_largest_amount_is_a_422_problem(selling: Api) -> None:
    head = selling.head()
    lines = line(quantity="1000000000000", unit_price="1000000000000000")

    assert_problem(
        selling.post("/sales-orders", order_body("SO-9", lines=lines)), 422, "invalid-input"
    )
    assert selling.head() == head
