"""Credit control over HTTP: the customer's standing, credit rules in the approval policy,
a shipment refused with a stored hold (409 `credit-hold`), finance's release and hold, the
holds list and the order's timeline and status — every refusal problem+json."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem

CUSTOMER = {
    "code": "C-2",
    "name": "Fabrikam",
    "billing_address": "1 Bill St",
    "shipping_address": "2 Ship Rd",
    "region": "north",
    "payment_terms_days": 30,
    "credit_limit": "100",
}
FINANCE = {"X-Role": "finance"}


def put_policy(api: Api, policy: dict[str, Any]) -> Any:
    return api.client.put("/approval-policy", json=policy)


def order(api: Api, number: str, qty: str, price: str = "2.50") -> dict[str, Any]:
    body = {"number": number, "customer": "C-2", "warehouse": "WH-1", "salesperson": "ann",
            "lines": [{"sku": "SKU-1", "quantity": qty, "unit_price": price}]}  # fmt: skip
    api.ok("/sales-orders", body, 201)
    return api.ok(f"/sales-orders/{number}/submit")


def shipment(qty: str, ref: str) -> dict[str, Any]:
    return {"shipment_ref": ref, "lines": [{"line_no": 1, "quantity": qty}],
            "carrier": "DHL", "tracking_number": f"T-{ref}"}  # fmt: skip


@pytest.fixture
def selling(api: Api) -> Api:
    """WH-1 with 100 of SKU-1, and customer C-2 with a credit limit of 100 EUR."""
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.produce("SKU-1", "WH-1", "100")
    api.ok("/customers", CUSTOMER, 201)
    return api


@pytest.fixture
def over(selling: Api) -> Api:
    """SO-1 (80.00) and SO-2 (50.00) approved for C-2: 130.00 against a limit of 100."""
    order(selling, "SO-1", "32")
    order(selling, "SO-2", "20")
    return selling


def test_the_customers_credit_shows_every_part_the_score_and_its_inputs(over: Api) -> None:
    body = over.read("/customers/C-2/credit")

    assert (body["customer"], body["currency"], body["limit"], body["limit_set"]) == (
        "C-2", "EUR", "100", True,
    )  # fmt: skip
    assert body["parts"] == {"open_ar": "0", "pending_invoice": "0", "open_orders": "130"}
    assert (body["exposure"], body["available"], body["over_limit"]) == ("130", "-30", True)
    assert (body["score"], body["score_inputs"]["neutral"]) == (70, True)
    assert body["score_inputs"]["penalties"]["payment_speed"] == "30"
    assert body["include_open_orders"] is True
    assert body["position"] == over.head()
    assert body["other_currencies"] == {}


def test_the_credit_of_an_unknown_or_malformed_customer_is_a_problem(selling: Api) -> None:
    assert_problem(selling.get("/customers/C-404/credit"), 404, "not-found")
    assert_problem(selling.get("/customers/bad code/credit"), 422, "invalid-input")


def test_the_approval_policy_takes_credit_conditions_and_refuses_bad_ones(selling: Api) -> None:
    head = selling.head()
    bad = put_policy(selling, {"rules": [{"name": "r", "when": {"credit_score_below": 0},
                                          "levels": ["finance"]}]})  # fmt: skip
    assert_problem(bad, 422, "invalid-input")
    assert selling.head() == head

    good = put_policy(selling, {"rules": [
        {"name": "over limit", "when": {"credit_over_limit": True}, "levels": ["finance"]},
        {"name": "weak payer", "when": {"credit_score_below": 40}, "levels": ["manager"]},
    ]})  # fmt: skip
    assert good.status_code == 200, good.text

    within = order(selling, "SO-1", "32")  # 80.00: within 100
    over_limit = order(selling, "SO-2", "20")  # 50.00 more
    assert (within["status"], within["awaiting_role"]) == ("approved", None)
    assert (over_limit["stage"], over_limit["awaiting_role"]) == ("awaiting_approval", "finance")
    approved = selling.ok("/sales-orders/SO-2/approve", {"comment": "limit raise pending"},
                          **{"x_role": "finance"})  # fmt: skip
    assert approved["status"] == "approved"


def test_an_over_limit_shipment_is_refused_with_the_hold_stored_and_shown(over: Api) -> None:
    head = over.head()

    response = over.post("/sales-orders/SO-2/shipments", shipment("20", "SH-1"),
                         x_role="warehouse")  # fmt: skip

    problem = assert_problem(response, 409, "credit-hold")
    assert "credit hold" in problem["detail"]
    assert "SH-1" in problem["detail"]
    assert (problem["number"], problem["shipment_ref"]) == ("SO-2", "SH-1")
    assert (problem["figures"]["exposure"], problem["figures"]["over_limit"]) == ("130", True)
    assert problem["position"] == head + 1 == over.head()  # the hold, nothing else
    assert response.headers["X-Log-Position"] == str(problem["position"])
    owed = over.read("/receivables", customer="C-2", min_position=problem["position"])
    assert owed["items"] == []
    assert over.stock_item("SKU-1")["physical"] == "100"

    holds = over.read("/credit/holds", min_position=problem["position"])["items"]
    assert [(h["number"], h["customer"], h["amount"], h["source"], h["role"]) for h in holds] == [
        ("SO-2", "C-2", "50", "shipment", "warehouse"),
    ]
    assert holds[0]["figures"]["exposure"] == "130.00"
    assert holds[0]["since"]
    timeline = over.read("/sales-orders/SO-2/timeline", min_position=problem["position"])
    assert timeline["items"][-1]["kind"] == "CreditHeld"
    status = over.read("/sales-orders/SO-2/status")
    assert (status["credit_hold"]["source"], status["credit_hold"]["shipment_ref"]) == (
        "shipment", "SH-1",
    )  # fmt: skip

    again = over.post("/sales-orders/SO-2/shipments", shipment("20", "SH-2"))
    assert_problem(again, 409, "credit-hold")
    assert over.head() == problem["position"]


def test_only_finance_or_a_manager_releases_and_then_the_order_ships(over: Api) -> None:
    assert_problem(over.post("/sales-orders/SO-2/shipments", shipment("20", "SH-1")), 409,
                   "credit-hold")  # fmt: skip
    head = over.head()

    for role in ("warehouse", "sales"):  # not their permission at all
        refused = over.post("/sales-orders/SO-2/credit-release", {"reason": "ok"}, x_role=role)
        assert_problem(refused, 403, "forbidden")
    # An administrator holds every permission, yet credit decisions are finance's own.
    refused = over.post("/sales-orders/SO-2/credit-release", {"reason": "ok"},
                        x_role="admin")  # fmt: skip
    assert_problem(refused, 409, "credit-role")
    assert_problem(over.post("/sales-orders/SO-2/credit-release", {"reason": ""}, **FINANCE),
                   422, "invalid-input")  # fmt: skip
    assert_problem(over.post("/sales-orders/SO-2/credit-release", {}, **FINANCE), 422,
                   "invalid-input")  # fmt: skip
    assert_problem(over.post("/sales-orders/SO-9/credit-release", {"reason": "x"}, **FINANCE),
                   404, "not-found")  # fmt: skip
    assert over.head() == head

    released = over.ok("/sales-orders/SO-2/credit-release", {"reason": "prepaid"}, **FINANCE)
    assert (released["credit_hold"], released["credit_release"]["role"]) == (None, "finance")
    shipped = over.ok("/sales-orders/SO-2/shipments", shipment("20", "SH-1"), 201)
    assert shipped["status"] == "shipped"
    assert over.read("/credit/holds", min_position=shipped["position"])["items"] == []
    steps = over.read("/sales-orders/SO-2/timeline", min_position=shipped["position"])["items"]
    assert [s["kind"] for s in steps if s["kind"].startswith("Credit")] == [
        "CreditHeld", "CreditReleased",
    ]  # fmt: skip


def test_finance_holds_an_order_by_hand_and_it_cannot_ship(over: Api) -> None:
    assert_problem(over.post("/sales-orders/SO-1/credit-hold", {"reason": "x"},
                             x_role="sales"), 403, "forbidden")  # fmt: skip

    held = over.ok("/sales-orders/SO-1/credit-hold", {"reason": "cheque bounced"},
                   x_role="manager")  # fmt: skip

    assert (held["credit_hold"]["source"], held["credit_hold"]["reason"]) == (
        "manual", "cheque bounced",
    )  # fmt: skip
    assert held["credit_hold"]["figures"]["exposure"] == "130"
    head = over.head()
    assert_problem(over.post("/sales-orders/SO-1/credit-hold", {"reason": "again"}, **FINANCE),
                   409, "already-on-hold")  # fmt: skip
    assert_problem(over.post("/sales-orders/SO-1/shipments", shipment("1", "SH-1")), 409,
                   "credit-hold")  # fmt: skip
    assert over.head() == head
    listed = over.read("/credit/holds", min_position=head)["items"]
    assert [(h["number"], h["actor"], h["reason"]) for h in listed] == [
        ("SO-1", "tester", "cheque bounced"),
    ]
    assert_problem(over.get("/credit/holds", limit=0), 422, "invalid-input")


def put_limit(api: Api, limit: str, role: str = "finance", **headers: str) -> Any:
    return api.client.put(
        "/customers/C-2/credit-limit",
        json={"credit_limit": limit, "reason": "annual review"},
        headers={"X-Role": role, **headers},
    )


def test_finance_raises_the_limit_and_the_order_that_was_over_it_ships(over: Api) -> None:
    response = put_limit(over, "500")

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["credit_limit"], changed["previous_credit_limit"]) == ("500", "100")
    credit = over.read("/customers/C-2/credit", min_position=changed["position"])
    assert (credit["limit"], credit["exposure"], credit["over_limit"]) == ("500", "130", False)
    assert over.read("/customers/C-2")["credit_limit"] == "500"
    shipped = over.ok("/sales-orders/SO-2/shipments", shipment("20", "SH-1"))
    assert over.read("/credit/holds", min_position=shipped["position"])["items"] == []


def test_a_lowered_limit_holds_the_next_shipment(selling: Api) -> None:
    order(selling, "SO-1", "20")  # 50.00 against 100: approved, within the limit

    lowered = put_limit(selling, "10", role="manager")

    assert lowered.status_code == 200, lowered.text
    assert_problem(selling.post("/sales-orders/SO-1/shipments", shipment("20", "SH-1")),
                   409, "credit-hold")  # fmt: skip
    limit_zero = put_limit(selling, "0")  # no limit: credit control is off for the account
    assert limit_zero.status_code == 200, limit_zero.text
    credit = selling.read("/customers/C-2/credit", min_position=limit_zero.json()["position"])
    assert (credit["limit"], credit["limit_set"]) == ("0", False)


@pytest.mark.parametrize(
    ("limit", "role", "status", "rule"),
    [
        ("500", "sales", 403, "forbidden"),
        ("500", "admin", 409, "credit-role"),
        ("-1", "finance", 422, "invalid-input"),
        ("1.00001", "finance", 422, "invalid-input"),
        ("abc", "finance", 422, "invalid-input"),
        ("100", "finance", 409, "credit-limit-unchanged"),
    ],
)
def test_a_bad_credit_limit_change_is_a_problem_and_stores_nothing(
    selling: Api, limit: str, role: str, status: int, rule: str
) -> None:
    head = selling.head()

    assert_problem(put_limit(selling, limit, role), status, rule)

    assert selling.head() == head
    assert selling.read("/customers/C-2")["credit_limit"] == "100"


def test_the_limit_of_an_unknown_customer_or_at_a_stale_version_is_refused(selling: Api) -> None:
    head = selling.head()
    unknown = selling.client.put(
        "/customers/C-404/credit-limit", json={"credit_limit": "5", "reason": "x"},
        headers=FINANCE,
    )  # fmt: skip
    assert_problem(unknown, 404, "not-found")
    assert_problem(put_limit(selling, "5", **{"If-Match": '"7"'}), 412, "stale-version")
    assert selling.head() == head
