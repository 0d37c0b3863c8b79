"""The order process over HTTP: workflow definitions and the approval policy published as JSON
or YAML, approvals and manual moves acting in the caller's role, production orders, the SLA
list and scan, an order's status page and customer flags read by the approval rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, assert_problem

CUSTOMER = {
    "code": "C-1",
    "name": "Contoso",
    "billing_address": "1 Bill St",
    "shipping_address": "2 Ship Rd",
    "region": "north",
}
POLICY = {
    "rules": [
        {"name": "big", "when": {"amount_over": "100", "currency": "EUR"},
         "levels": ["sales_director", "finance"]},
    ],
}  # fmt: skip
SIMPLE: dict[str, Any] = {
    "initial": "created",
    "stages": [
        {"key": "created", "role": "sales", "sla_hours": 8},
        {"key": "approved", "role": "warehouse", "sla_hours": 4, "on_enter": ["reserve_stock"]},
        {"key": "done", "role": "sales", "label": "Done and dusted"},
    ],
    "transitions": [
        {"from": "created", "to": "approved", "on": "approved"},
        {"from": "approved", "to": "done", "on": "shipped"},
        {"from": "approved", "to": "done", "on": "manual", "roles": ["manager"]},
    ],
}
EXPRESS_YAML = """\
name: express
description: straight to the warehouse
initial: created
stages:
  - {key: created, role: sales, sla_hours: 2}
  - key: approved
    role: warehouse
    sla_hours: 1.5
    on_enter: [reserve_stock]
  - {key: shipped, role: warehouse}
transitions:
  - from: created
    to: approved
    on: approved
  - {from: approved, to: shipped, on: shipped}
  - from: approved
    to: shipped
    on: manual
    roles: [warehouse, manager]
"""


@pytest.fixture
def shop(stocked: Api) -> Api:
    """WH-1 with 10 × SKU-1 (bought) on hand, a make item MAKE-1 whose component COMP-1 has
    20 on hand, and customer C-1."""
    stocked.product("MAKE-1", "make")
    stocked.product("COMP-1")
    stocked.produce("COMP-1", "WH-1", "20", ref="MO-COMP")
    stocked.ok("/customers", CUSTOMER, 201)
    return stocked


def put(
    api: Api,
    path: str,
    body: Any = None,
    *,
    content: str | None = None,
    content_type: str = "application/yaml",
    **headers: str,
) -> httpx.Response:
    sent = {"-".join(p.capitalize() for p in k.split("_")): v for k, v in headers.items()}
    if content is not None:
        sent["Content-Type"] = content_type
        return api.client.put(path, content=content, headers=sent)
    return api.client.put(path, json=body, headers=sent)


def put_ok(api: Api, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    response = put(api, path, body, **kwargs)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert response.headers["X-Log-Position"] == str(result["position"])
    return result


def take(api: Api, number: str = "SO-1", quantity: str = "4", price: str = "2.50",
         sku: str = "SKU-1") -> dict[str, Any]:  # fmt: skip
    body = {
        "number": number, "customer": "C-1", "warehouse": "WH-1", "salesperson": "ann",
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": price}],
    }  # fmt: skip
    return api.ok("/sales-orders", body, 201)


# -- workflow definitions ------------------------------------------------------------------------


def test_a_workflow_published_as_json_reads_back_with_its_versions(api: Api) -> None:
    first = put_ok(api, "/workflows/simple", SIMPLE)

    assert (first["name"], first["definition_version"], first["version"]) == ("simple", 1, 1)
    response = api.get("/workflows/simple")
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    assert (body["name"], body["version"], body["versions"]) == ("simple", 1, 1)
    stages = body["definition"]["stages"]
    assert [(s["key"], s["label"], s["sla_hours"]) for s in stages] == [
        ("created", "created", 8.0), ("approved", "approved", 4.0),
        ("done", "Done and dusted", None),
    ]  # fmt: skip
    assert body["definition"]["transitions"][2] == {
        "from": "approved", "to": "done", "on": "manual", "roles": ["manager"],
    }  # fmt: skip

    revised = {**SIMPLE, "description": "v2"}
    second = put_ok(api, "/workflows/simple", revised, if_match='"1"')

    assert (second["definition_version"], second["version"]) == (2, 2)
    assert api.read("/workflows/simple")["definition"]["description"] == "v2"
    old = api.read("/workflows/simple/versions/1")
    assert (old["version"], old["definition"]["description"]) == (1, "")
    assert_problem(api.get("/workflows/simple/versions/3"), 404, "not-found")
    assert_problem(api.get("/workflows/nothing-here"), 404, "not-found")
    vocabulary = api.read("/workflows/vocabulary")  # what a definition may use
    assert ("sales_director" in vocabulary["roles"], "stock_short" in vocabulary["triggers"]) == (
        True, True,
    )  # fmt: skip
    assert vocabulary["actions"] == ["reserve_stock", "create_production", "notify"]


def test_a_workflow_published_as_yaml_keeps_its_on_keys_as_triggers(api: Api) -> None:
    written = put_ok(api, "/workflows/express", content=EXPRESS_YAML)

    assert written["definition_version"] == 1
    body = api.read("/workflows/express/versions/1")["definition"]
    assert body["description"] == "straight to the warehouse"
    assert [(t["from"], t["to"], t["on"], t["roles"]) for t in body["transitions"]] == [
        ("created", "approved", "approved", []),
        ("approved", "shipped", "shipped", []),
        ("approved", "shipped", "manual", ["warehouse", "manager"]),
    ]
    assert body["stages"][1]["sla_hours"] == 1.5
    again = put(api, "/workflows/express", content=EXPRESS_YAML,
                content_type="text/yaml; charset=utf-8")  # fmt: skip
    assert again.status_code == 200, again.text
    assert api.read("/workflows/express")["versions"] == 2


def broken(**changes: Any) -> dict[str, Any]:
    return {**SIMPLE, **changes}


INVALID: list[tuple[Any, str]] = [
        (broken(stages=[{**SIMPLE["stages"][0], "role": "nobody"}, *SIMPLE["stages"][1:]]),
         "unknown role 'nobody'"),
        (broken(transitions=[*SIMPLE["transitions"],
                             {"from": "done", "to": "nowhere", "on": "shipped"}]),
         "no stage 'nowhere'"),
        (broken(stages=[*SIMPLE["stages"], {"key": "limbo", "role": "sales", "sla_hours": 1}]),
         "stage 'limbo' cannot be reached"),
        (broken(transitions=[*SIMPLE["transitions"][:2],
                             {"from": "approved", "to": "done", "on": "manual"}]),
         "needs roles"),
        (broken(name="other"), "the body names workflow 'other'"),
        (broken(colour="blue"), "unknown workflow field 'colour'"),
    ([SIMPLE], "a workflow definition is an object"),
]  # fmt: skip


def test_an_invalid_definition_is_a_422_problem_and_stores_nothing(api: Api) -> None:
    head = api.head()

    for definition, detail in INVALID:
        problem = assert_problem(put(api, "/workflows/simple", definition), 422, "invalid-input")
        assert detail in problem["detail"], (definition, problem)

    assert api.head() == head
    assert_problem(api.get("/workflows/simple"), 404, "not-found")


def test_if_match_zero_publishes_only_a_new_workflow(api: Api) -> None:
    put_ok(api, "/workflows/simple", SIMPLE, if_match='"0"')
    head = api.head()

    assert_problem(put(api, "/workflows/simple", SIMPLE, if_match='"0"'), 409, "already-exists")
    assert_problem(put(api, "/workflows/simple", SIMPLE, if_match='"7"'), 412, "stale-version")
    assert api.head() == head
    assert api.read("/workflows/simple")["versions"] == 1


def test_a_definition_in_an_unsupported_type_or_bad_yaml_is_refused(api: Api) -> None:
    head = api.head()

    for path in ("/workflows/simple", "/approval-policy"):
        plain = put(api, path, content='{"rules": []}', content_type="text/plain")
        assert_problem(plain, 415, "unsupported-media-type")
        problem = assert_problem(
            put(api, path, content="stages: [unclosed\n  - {key: x"), 422, "invalid-input"
        )
        assert "not valid application/yaml" in problem["detail"]
    bad_json = put(api, "/workflows/simple", content="{", content_type="application/json")
    assert_problem(bad_json, 422, "invalid-input")
    assert api.head() == head


# -- approval policy -----------------------------------------------------------------------------


def test_the_approval_policy_is_published_and_read_back_by_version(api: Api) -> None:
    assert api.read("/approval-policy") == {"version": 0, "policy": {"rules": []}}

    first = put_ok(api, "/approval-policy", POLICY)
    yaml_policy = (
        "description: discounts too\n"
        "rules:\n"
        "  - name: discount\n"
        "    when: {discount_over: '0.2'}\n"
        "    levels: [sales_director]\n"
    )
    second = put_ok(api, "/approval-policy", content=yaml_policy, if_match='"1"')

    assert (first["version"], second["version"]) == (1, 2)
    response = api.get("/approval-policy")
    assert response.headers["ETag"] == '"2"'
    assert response.json() == {
        "version": 2,
        "policy": {"description": "discounts too", "rules": [
            {"name": "discount", "when": {"discount_over": "0.2"}, "levels": ["sales_director"]},
        ]},
    }  # fmt: skip
    head = api.head()
    assert_problem(put(api, "/approval-policy", POLICY, if_match='"1"'), 412, "stale-version")
    bad = {"rules": [{"name": "x", "when": {"currency": "EUR"}, "levels": ["finance"]}]}
    assert_problem(put(api, "/approval-policy", bad), 422, "invalid-input")
    assert api.head() == head


# -- approvals and manual moves ------------------------------------------------------------------


def test_approval_levels_are_worked_through_in_the_callers_role(shop: Api) -> None:
    put_ok(shop, "/approval-policy", POLICY)
    take(shop, quantity="5", price="30")  # 150 EUR

    submitted = shop.ok("/sales-orders/SO-1/submit")
    assert (submitted["stage"], submitted["awaiting_role"]) == ("awaiting_approval",
                                                                 "sales_director")  # fmt: skip
    head = shop.head()
    assert_problem(shop.post("/sales-orders/SO-1/approve"), 409, "approver-role")
    assert_problem(shop.post("/sales-orders/SO-1/approve", x_role="finance"), 409,
                   "approver-role")  # fmt: skip
    assert_problem(shop.post("/sales-orders/SO-1/approve", x_role="warehouse"), 403,
                   "forbidden")  # fmt: skip
    assert shop.head() == head

    first = shop.ok("/sales-orders/SO-1/approve", {"comment": "ok"}, x_role="sales_director")
    assert (first["stage"], first["awaiting_role"]) == ("awaiting_approval", "finance")
    final = shop.ok("/sales-orders/SO-1/approve", x_role="finance")

    assert (final["stage"], final["status"], final["reserved"]) == (
        "stock_confirmed", "approved", {"1": "5"},
    )  # fmt: skip
    order = shop.read("/sales-orders/SO-1")
    assert order["approval"]["approvals"] == [
        {"level": 1, "role": "sales_director", "comment": "ok"},
        {"level": 2, "role": "finance", "comment": ""},
    ]
    assert order["workflow"] == {"name": "standard", "version": 1}
    assert_problem(shop.post("/sales-orders/SO-1/approve", x_role="finance"), 409,
                   "not-awaiting-approval")  # fmt: skip


def test_a_rejection_sends_the_order_back_to_its_salesperson(shop: Api) -> None:
    put_ok(shop, "/approval-policy", POLICY)
    take(shop, quantity="5", price="30")
    shop.ok("/sales-orders/SO-1/submit")
    assert_problem(shop.post("/sales-orders/SO-1/reject", {}, x_role="sales_director"),
                   422, "invalid-input")  # fmt: skip

    rejected = shop.ok("/sales-orders/SO-1/reject", {"comment": "price too low"},
                       x_role="sales_director")  # fmt: skip

    assert (rejected["stage"], rejected["status"], rejected["awaiting_role"]) == (
        "created", "created", None,
    )  # fmt: skip
    timeline = shop.read("/sales-orders/SO-1/timeline", min_position=rejected["position"])
    assert [row["detail"] for row in timeline["items"] if row["kind"] == "Rejected"] == [
        "level 1 rejected by sales_director: price too low"
    ]
    last = timeline["items"][-1]
    assert (last["kind"], last["to_stage"], last["role"]) == (
        "StageChanged", "created", "sales_director",  # the role the rejecting request acted in
    )  # fmt: skip


def deliver(api: Api, number: str = "SO-1") -> dict[str, Any]:
    api.ok(f"/sales-orders/{number}/shipments",
           {"lines": [{"line_no": 1, "quantity": "4"}], "carrier": "DHL",
            "tracking_number": "TRK-1", "shipment_ref": "SHP-1"}, 201)  # fmt: skip
    return api.ok(f"/sales-orders/{number}/shipments/SHP-1/delivery", {"signed_by": "Bob"})


def test_a_delivered_order_is_completed_by_hand_in_a_named_role(shop: Api) -> None:
    take(shop)
    shop.ok("/sales-orders/SO-1/submit")
    assert deliver(shop)["stage"] == "delivered"
    head = shop.head()

    assert_problem(shop.post("/sales-orders/SO-1/transitions", {"to_stage": "completed"}),
                   409, "transition-role")  # fmt: skip
    assert_problem(
        shop.post("/sales-orders/SO-1/transitions", {"to_stage": "completed"},
                  x_role="warehouse"),
        409, "transition-role",
    )  # fmt: skip
    assert_problem(
        shop.post("/sales-orders/SO-1/transitions", {"to_stage": "created"}, x_role="sales"),
        409, "workflow-transition",
    )  # fmt: skip
    assert_problem(shop.post("/sales-orders/SO-1/transitions", {}), 422, "invalid-input")
    assert shop.head() == head

    done = shop.ok("/sales-orders/SO-1/transitions",
                   {"to_stage": "completed", "comment": "paid"}, x_role="sales")  # fmt: skip

    assert done["stage"] == "completed"
    timeline = shop.read("/sales-orders/SO-1/timeline", min_position=done["position"])
    last = timeline["items"][-1]
    assert (last["from_stage"], last["to_stage"], last["role"]) == (
        "delivered", "completed", "sales",
    )  # fmt: skip


# -- production ----------------------------------------------------------------------------------


def test_production_for_stock_runs_from_scheduled_to_received(shop: Api) -> None:
    head = shop.head()
    assert_problem(
        shop.post("/production-orders", {"sku": "SKU-1", "warehouse": "WH-1", "quantity": "2"}),
        409, "not-a-make-item",
    )  # fmt: skip
    assert shop.head() == head
    response = shop.post(
        "/production-orders", {"number": "PRD-1", "sku": "MAKE-1", "warehouse": "WH-1",
                               "quantity": "3"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/production-orders/PRD-1"
    assert response.json()["status"] == "scheduled"

    issued = shop.ok("/production-orders/PRD-1/materials", {"components": {"COMP-1": "6"}})
    assert (issued["status"], issued["materials"]) == ("materials_issued", {"COMP-1": "6"})
    assert shop.stock_item("COMP-1")["physical"] == "14"
    assert shop.ok("/production-orders/PRD-1/complete")["status"] == "completed"
    assert_problem(shop.post("/production-orders/PRD-1/qc", {"passed": False}), 422,
                   "invalid-input")  # fmt: skip
    failed = shop.ok("/production-orders/PRD-1/qc", {"passed": False, "notes": "cracked"})
    assert failed["status"] == "qc_failed"
    assert shop.ok("/production-orders/PRD-1/rework", {"reason": "reglue"})["status"] == (
        "materials_issued"
    )
    shop.ok("/production-orders/PRD-1/complete", {"produced": "2"})
    shop.ok("/production-orders/PRD-1/qc", {"passed": True})
    received = shop.ok("/production-orders/PRD-1/receive")

    assert (received["status"], received["produced"]) == ("received", "2")
    assert shop.stock_item("MAKE-1")["physical"] == "2"
    single = shop.get("/production-orders/PRD-1")
    assert single.headers["ETag"] == f'"{received["version"]}"'
    assert single.json()["materials"] == {"COMP-1": "6"}
    listed = shop.read("/production-orders", min_position=received["position"])
    assert [(p["number"], p["status"], p["produced"]) for p in listed["items"]] == [
        ("PRD-1", "received", "2"),
    ]
    # Received goods are in stock: there is nothing left to cancel.
    assert_problem(shop.post("/production-orders/PRD-1/cancel", {"reason": "late"}), 409,
                   "production-order-status")  # fmt: skip


def test_production_not_yet_started_can_be_cancelled_and_lists_by_status(shop: Api) -> None:
    for number in ("PRD-1", "PRD-2"):
        shop.ok("/production-orders", {"number": number, "sku": "MAKE-1", "warehouse": "WH-1",
                                        "quantity": "1"}, 201)  # fmt: skip
    shop.ok("/production-orders/PRD-2/materials", {"components": {"COMP-1": "1"}})

    cancelled = shop.ok("/production-orders/PRD-1/cancel", {"reason": "not needed"})

    assert cancelled["status"] == "cancelled"
    assert_problem(shop.post("/production-orders/PRD-2/cancel", {"reason": "x"}), 409,
                   "production-started")  # fmt: skip
    by_status = shop.read("/production-orders", status="cancelled",
                          min_position=cancelled["position"])  # fmt: skip
    assert [p["number"] for p in by_status["items"]] == ["PRD-1"]
    assert_problem(shop.get("/production-orders/PRD-404"), 404, "not-found")


def test_a_short_make_line_is_produced_and_reserved_for_its_order(shop: Api) -> None:
    submitted = (take(shop, sku="MAKE-1", quantity="2"), shop.ok("/sales-orders/SO-1/submit"))[1]
    [number] = submitted["production"]
    assert (submitted["stage"], number) == ("production_scheduled", "PRD-SO-1-L1-1")
    listed = shop.read("/production-orders", sales_order="SO-1",
                       min_position=submitted["position"])  # fmt: skip
    assert [(p["number"], p["line_no"], p["status"]) for p in listed["items"]] == [
        (number, 1, "scheduled"),
    ]

    shop.ok(f"/production-orders/{number}/materials", {"components": {"COMP-1": "2"}})
    shop.ok(f"/production-orders/{number}/complete")
    assert shop.read("/sales-orders/SO-1")["stage"] == "production_complete"
    shop.ok(f"/production-orders/{number}/qc", {"passed": True})
    assert shop.read("/sales-orders/SO-1")["stage"] == "qc_passed"
    shop.ok(f"/production-orders/{number}/receive")

    order = shop.read("/sales-orders/SO-1")
    assert [(x["reserved"], x["short"]) for x in order["lines"]] == [("2", "0")]
    assert order["production"] == [{"number": number, "line_no": 1, "status": "received"}]
    assert shop.stock_item("MAKE-1")["reservations"] == {"SO-1": "2"}


# -- SLA -----------------------------------------------------------------------------------------


def scan(api: Api) -> dict[str, Any]:
    response = api.post("/sla/scan")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def late(api: Api, number: str) -> dict[str, Any]:
    """Stock confirmed (48 h SLA) three days ago."""
    take(api, number, quantity="1")
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    return api.ok(f"/sales-orders/{number}/submit", {"effective_at": past})


def test_the_sla_list_shows_late_and_at_risk_orders_and_a_scan_records_breaches(
    shop: Api,
) -> None:
    take(shop, "SO-NEW", quantity="1")  # created now: due in 24 h
    written = late(shop, "SO-LATE")
    assert written["stage"] == "stock_confirmed"

    everything = shop.read("/sla/orders", within_hours=48, min_position=written["position"])
    assert [(i["number"], i["sla_state"], i["stage_role"]) for i in everything["items"]] == [
        ("SO-LATE", "late", "warehouse"), ("SO-NEW", "at_risk", "sales"),
    ]  # fmt: skip
    assert everything["items"][0]["overdue_seconds"] > 23 * 3600
    assert everything["items"][0]["sla_breached_at"] is None
    assert [i["number"] for i in shop.read("/sla/orders", within_hours=1)["items"]] == ["SO-LATE"]
    assert [i["number"] for i in shop.read("/sla/orders", state="at_risk",
                                           within_hours=48)["items"]] == ["SO-NEW"]  # fmt: skip
    assert [i["number"] for i in shop.read("/sla/orders", state="late",
                                           within_hours=48)["items"]] == ["SO-LATE"]  # fmt: skip
    assert_problem(shop.get("/sla/orders", within_hours=0), 422, "invalid-input")

    scanned = scan(shop)

    assert (scanned["due"], scanned["recorded"]) == (1, 1)
    after = shop.read("/sla/orders", state="late", min_position=scanned["position"])
    assert after["items"][0]["sla_breached_at"] is not None
    again = scan(shop)
    assert (again["due"], again["recorded"]) == (0, 0)
    assert again["position"] == scanned["position"]
    timeline = shop.read("/sales-orders/SO-LATE/timeline", min_position=scanned["position"])
    assert timeline["items"][-1]["kind"] == "Recorded"
    assert timeline["items"][-1]["actor"] == "sla-monitor"


# -- status, flags, lists ------------------------------------------------------------------------


def ship(api: Api, ref: str, quantity: str) -> dict[str, Any]:
    body = {"lines": [{"line_no": 1, "quantity": quantity}], "carrier": "DHL",
            "tracking_number": f"TRK-{ref}", "shipment_ref": ref}  # fmt: skip
    return api.ok("/sales-orders/SO-1/shipments", body, 201)


def status_after(api: Api, position: int) -> httpx.Response:
    # The history comes from the orders read model (the status route takes no min_position):
    # wait for the timeline to include the last write first.
    api.read("/sales-orders/SO-1/timeline", min_position=position)
    response = api.get("/sales-orders/SO-1/status")
    assert response.status_code == 200, response.text
    return response


def test_the_status_page_shows_stage_progress_shipments_and_stage_history(shop: Api) -> None:
    take(shop, quantity="4")
    shop.ok("/sales-orders/SO-1/submit")
    ship(shop, "SHP-1", "1")
    delivered = shop.ok("/sales-orders/SO-1/shipments/SHP-1/delivery", {"signed_by": "Bob"})

    partly = status_after(shop, delivered["position"]).json()

    # The standard workflow ignores a partial shipment: the stage stays where it was.
    assert (partly["stage"], partly["stage_label"], partly["status"]) == (
        "stock_confirmed", "stock confirmed", "partially_shipped",
    )  # fmt: skip
    assert (partly["shipped_pct"], partly["delivered_pct"]) == ("25", "25")
    [first] = partly["shipments"]
    assert (first["shipment_ref"], first["carrier"], first["tracking_number"]) == (
        "SHP-1", "DHL", "TRK-SHP-1",
    )  # fmt: skip
    assert first["delivered"]["signed_by"] == "Bob"

    rest = ship(shop, "SHP-2", "3")
    response = status_after(shop, rest["position"])

    status = response.json()
    assert (status["stage"], status["stage_label"], status["status"]) == (
        "shipped", "shipped", "shipped",
    )  # fmt: skip
    assert (status["shipped_pct"], status["delivered_pct"]) == ("100", "25")
    assert [(s["shipment_ref"], s["tracking_number"], s["delivered"] is None)
            for s in status["shipments"]] == [("SHP-1", "TRK-SHP-1", False),
                                              ("SHP-2", "TRK-SHP-2", True)]  # fmt: skip
    assert [(h["from_stage"], h["stage"]) for h in status["history"]] == [
        (None, "created"), ("created", "approved"), ("approved", "stock_confirmed"),
        ("stock_confirmed", "shipped"),
    ]  # fmt: skip
    assert all(h["at"] for h in status["history"])
    assert response.headers["ETag"] == f'"{rest["version"]}"'
    assert_problem(shop.get("/sales-orders/SO-404/status"), 404, "not-found")


def test_a_customer_flag_sends_the_order_to_the_finance_level(shop: Api) -> None:
    put_ok(shop, "/approval-policy", {"rules": [
        {"name": "watched", "when": {"customer_flag": "credit_watch"}, "levels": ["finance"]},
    ]})  # fmt: skip
    take(shop, "SO-1")
    assert shop.ok("/sales-orders/SO-1/submit")["stage"] == "stock_confirmed"  # no flag yet

    flagged = put_ok(shop, "/customers/C-1/flags",
                     {"flags": ["credit_watch"], "reason": "late payer"})  # fmt: skip
    assert flagged["flags"] == ["credit_watch"]
    assert shop.read("/customers/C-1")["flags"] == ["credit_watch"]
    take(shop, "SO-2")
    submitted = shop.ok("/sales-orders/SO-2/submit")

    assert (submitted["stage"], submitted["awaiting_role"]) == ("awaiting_approval", "finance")
    assert shop.read("/sales-orders/SO-2")["approval"]["levels"] == [
        {"role": "finance", "rule": "watched"},
    ]
    assert_problem(shop.post("/customers/C-1/flags", {"flags": ["credit_watch"]}), 405,
                   "http-error")  # fmt: skip
    head = shop.head()
    same = put(shop, "/customers/C-1/flags", {"flags": ["credit_watch"], "reason": "again"})
    assert_problem(same, 409, "flags-unchanged")
    assert_problem(put(shop, "/customers/C-1/flags", {"flags": ["bad flag"], "reason": "x"}),
                   422, "invalid-input")  # fmt: skip
    assert shop.head() == head
    assert shop.ok("/sales-orders/SO-2/approve", x_role="finance")["stage"] == ("stock_confirmed")


def test_orders_can_be_listed_by_stage(shop: Api) -> None:
    put_ok(shop, "/approval-policy", POLICY)
    take(shop, "SO-1", quantity="5", price="30")
    take(shop, "SO-2")
    take(shop, "SO-3", quantity="5", price="30")
    shop.ok("/sales-orders/SO-1/submit")
    shop.ok("/sales-orders/SO-2/submit")
    last = shop.ok("/sales-orders/SO-3/submit")

    waiting = shop.read("/sales-orders", stage="awaiting_approval", min_position=last["position"])

    assert [(o["number"], o["awaiting_role"], o["stage_role"]) for o in waiting["items"]] == [
        ("SO-1", "sales_director", "sales_director"), ("SO-3", "sales_director", "sales_director"),
    ]  # fmt: skip
    confirmed = shop.read("/sales-orders", stage="stock_confirmed")["items"]
    assert [(o["number"], o["workflow"], o["workflow_version"]) for o in confirmed] == [
        ("SO-2", "standard", 1),
    ]
    assert shop.read("/sales-orders", stage="completed")["items"] == []
    assert_problem(shop.get("/sales-orders", stage="not a stage"), 422, "invalid-input")
