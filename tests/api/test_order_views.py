"""GET /sales-orders and GET /sales-orders/{number}/timeline on both stores."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import Api, assert_problem


def take_order(api: Api, number: str, quantity: str = "3") -> dict[str, object]:
    return api.ok(
        "/sales-orders",
        {
            "number": number, "customer": "C-1", "warehouse": "WH-1", "salesperson": "maria",
            "lines": [{"sku": "SKU-1", "quantity": quantity, "unit_price": "10.00"}],
        },
        201,
    )  # fmt: skip


def customer(api: Api) -> None:
    api.ok(
        "/customers",
        {"code": "C-1", "name": "Acme", "billing_address": "a", "shipping_address": "b",
         "region": "north"},
        201,
    )  # fmt: skip


def test_the_timeline_shows_each_step_of_an_order_as_it_happens(stocked: Api) -> None:
    customer(stocked)
    take_order(stocked, "SO-1")
    stocked.ok("/sales-orders/SO-1/submit")
    shipped = stocked.ok(
        "/sales-orders/SO-1/shipments",
        {"lines": [{"line_no": 1, "quantity": "3"}], "carrier": "UPS", "tracking_number": "1Z9"},
        201,
    )
    body = stocked.read("/sales-orders/SO-1/timeline", min_position=shipped["position"])
    steps = [(s["kind"], s["from_stage"], s["to_stage"], s["status"]) for s in body["items"]]
    assert steps == [
        ("Created", None, "created", "created"),
        ("Submitted", "created", "created", "created"),
        ("StageChanged", "created", "approved", "created"),
        ("StockAllocated", "approved", "approved", "approved"),
        ("StageChanged", "approved", "stock_confirmed", "approved"),
        ("Shipped", "stock_confirmed", "stock_confirmed", "shipped"),
        ("StageChanged", "stock_confirmed", "shipped", "shipped"),
    ]
    assert "1Z9" in body["items"][-2]["detail"]
    current = body["current"]
    assert (current["stage"], current["responsible_role"]) == ("shipped", "warehouse")
    assert current["entered_at"] == body["items"][-1]["recorded_at"]
    assert Decimal(current["seconds_in_stage"]) >= 0
    assert current["sla_due_at"] is not None
    assert current["sla_breached_at"] is None
    spent = current["seconds_in_each_stage_left"]
    assert sorted(spent) == ["approved", "created", "stock_confirmed"]
    left = [s for s in body["items"] if s["kind"] == "StageChanged"]
    assert sum(Decimal(v) for v in spent.values()) == sum(
        Decimal(s["seconds_in_previous_stage"]) for s in left
    )


def test_the_orders_list_filters_by_status_and_pages_by_number(stocked: Api) -> None:
    customer(stocked)
    for n in range(3):
        take_order(stocked, f"SO-{n}", quantity="1")
    last = stocked.ok("/sales-orders/SO-1/cancel", {"reason": "duplicate"})
    everything = stocked.read("/sales-orders", min_position=last["position"], limit=2)
    assert [o["number"] for o in everything["items"]] == ["SO-0", "SO-1"]
    rest = stocked.read("/sales-orders", after=everything["next_cursor"], limit=2)
    assert [o["number"] for o in rest["items"]] == ["SO-2"]
    cancelled = stocked.read("/sales-orders", status="cancelled")
    assert [(o["number"], o["total"]) for o in cancelled["items"]] == [("SO-1", "10")]


def test_a_timeline_of_an_unknown_order_is_a_404_problem(api: Api) -> None:
    response = api.get("/sales-orders/NOPE/timeline")
    assert_problem(response, 404, "not-found")


def test_a_blocked_customer_takes_no_orders_until_unblocked(stocked: Api) -> None:
    customer(stocked)
    blocked = stocked.ok("/customers/C-1/block", {"reason": "unpaid invoices"})
    assert blocked["status"] == "blocked"
    head = stocked.head()
    response = stocked.post(
        "/sales-orders",
        {"number": "SO-1", "customer": "C-1", "warehouse": "WH-1", "salesperson": "maria",
         "lines": [{"sku": "SKU-1", "quantity": "1", "unit_price": "1.00"}]},
    )  # fmt: skip
    assert_problem(response, 409, "customer-not-active")
    assert stocked.head() == head
    assert_problem(
        stocked.post("/customers/C-1/block", {"reason": "again"}), 409, "customer-status"
    )
    stocked.ok("/customers/C-1/unblock", {"reason": "paid"})
    take_order(stocked, "SO-1")
