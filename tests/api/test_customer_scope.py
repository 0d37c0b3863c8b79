"""A customer's key sees its own account and nothing else, by any route, list or guessed id;
and every caller's answers leave out the fields their role may not see.

Real keys on SQLite and PostgreSQL: customer user u.customer belongs to C-1; C-2 is another
customer with an order, a shipment, a receivable and an invoice of its own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.auth import declared_permission, serves_customers
from api.redaction import COST_FIELDS, STAFF_FIELDS
from domain.permissions import GRANTS, PUBLIC, SIGNED_IN
from domain.workflows import ROLES
from tests.api.conftest import Api, assert_problem
from tests.api.secured import Secured, routes_of, secured

__all__ = ["secured"]


def _order(api: Api, number: str, customer: str) -> None:
    api.ok("/sales-orders", {
        "number": number, "customer": customer, "warehouse": "WH-1", "salesperson": "maria",
        "lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "10.00"}],
    }, 201)  # fmt: skip
    api.ok(f"/sales-orders/{number}/submit")
    api.ok(f"/sales-orders/{number}/shipments", {
        "shipment_ref": f"SH-{number}", "lines": [{"line_no": 1, "quantity": "2"}],
        "carrier": "DHL", "tracking_number": f"T-{number}",
    }, 201)  # fmt: skip


@pytest.fixture
def shop(secured: Secured) -> dict[str, Any]:
    """Orders SO-1 (C-1) and SO-2 (C-2), both shipped and invoiced; as the manager."""
    secured.client.headers["Authorization"] = f"Bearer {secured.keys['manager']}"
    api = Api(secured.client)
    api.warehouse("WH-1")
    api.product("SKU-1")
    api.produce("SKU-1", "WH-1", "10")
    _order(api, "SO-1", "C-1")
    _order(api, "SO-2", "C-2")
    invoices = {}
    for number, customer in (("SO-1", "C-1"), ("SO-2", "C-2")):
        billed = api.ok("/invoices", {
            "customer": customer, "invoice_date": "2026-02-10",
            "shipments": [{"order_number": number, "shipment_ref": f"SH-{number}"}],
        }, 201)  # fmt: skip
        invoices[customer] = billed["number"]
    api.ok("/sales-orders/SO-1/internal-notes", {"note": "customer haggles; hold firm"}, 201)
    head = secured.head()
    receivables = api.read("/receivables", min_position=head)["items"]
    return {
        "api": api, "secured": secured, "head": head, "invoices": invoices,
        "receivables": {r["customer"]: r["receivable_id"] for r in receivables},
    }  # fmt: skip


def as_customer(shop: dict[str, Any], path: str, **params: Any) -> httpx.Response:
    secured: Secured = shop["secured"]
    return secured.client.get(path, params=params, headers=secured.as_role("customer"))


def test_a_customer_reads_its_own_orders_invoices_receivables_and_statement(
    shop: dict[str, Any],
) -> None:
    head = shop["head"]
    own = {
        "/sales-orders": {"min_position": head},
        "/sales-orders/SO-1": {},
        "/sales-orders/SO-1/status": {"min_position": head},
        "/sales-orders/SO-1/timeline": {"min_position": head},
        "/receivables": {"min_position": head},
        f"/receivables/{shop['receivables']['C-1']}": {},
        "/invoices": {"min_position": head},
        f"/invoices/{shop['invoices']['C-1']}": {},
        f"/invoices/{shop['invoices']['C-1']}/status": {"min_position": head},
        "/customers/C-1": {},
        "/customers/C-1/statement": {"from": "2026-01-01", "min_position": head},
        "/open-items": {"min_position": head},
    }
    for path, params in own.items():
        response = as_customer(shop, path, **params)
        assert response.status_code == 200, (path, response.text)
        text = response.text
        assert "C-2" not in text and "SO-2" not in text, path  # noqa: PT018
        assert shop["invoices"]["C-2"] not in text, path
    listed = as_customer(shop, "/sales-orders", min_position=head).json()["items"]
    assert [o["number"] for o in listed] == ["SO-1"]
    items = as_customer(shop, "/open-items", min_position=head).json()["items"]
    assert {i["customer"] for i in items} == {"C-1"}
    assert len(as_customer(shop, "/receivables", min_position=head).json()["items"]) == 1


def test_another_customers_records_are_not_found_by_any_route_or_filter(
    shop: dict[str, Any],
) -> None:
    head = shop["head"]
    theirs = {
        "/sales-orders/SO-2": "sales order 'SO-2' not found",
        "/sales-orders/SO-2/status": "sales order 'SO-2' not found",
        "/sales-orders/SO-2/timeline": "no timeline for sales order 'SO-2'",
        "/sales-orders/SO-2/stream": "sales order 'SO-2' not found",
        f"/receivables/{shop['receivables']['C-2']}": f"receivable {shop['receivables']['C-2']}"
        " not found",
        f"/invoices/{shop['invoices']['C-2']}": f"invoice {shop['invoices']['C-2']!r} not found",
        f"/invoices/{shop['invoices']['C-2']}/status": f"invoice {shop['invoices']['C-2']!r}"
        " not found",
        "/customers/C-2": "customer 'C-2' not found",
        "/customers/C-2/statement": "customer 'C-2' not found",
    }
    for path, message in theirs.items():
        response = as_customer(
            shop, path, **({"from": "2026-01-01"} if "statement" in path else {})
        )
        problem = assert_problem(response, 404, "not-found")
        assert problem["detail"] == message, path  # the same words as for no such record
    for path in ("/sales-orders", "/receivables", "/invoices", "/open-items"):
        assert_problem(as_customer(shop, path, customer="C-2", min_position=head), 404,
                       "not-found")  # fmt: skip
    # Staff see both: the 404s above are the customer's scope, not missing data.
    assert shop["api"].read("/sales-orders/SO-2")["customer"] == "C-2"


def test_a_customer_is_refused_every_route_not_declared_for_customers(
    shop: dict[str, Any],
) -> None:
    secured: Secured = shop["secured"]
    refused = 0
    for route in routes_of(secured.client.app):  # type: ignore[arg-type]
        if serves_customers(route) or declared_permission(route) in (PUBLIC, SIGNED_IN):
            continue
        path = route.path.replace("{", "").replace("}", "")
        method = sorted(route.methods - {"HEAD"})[0]
        response = secured.client.request(method, path, headers=secured.as_role("customer"))
        assert response.status_code == 403, (route.path, response.text)
        refused += 1
    assert refused > 100
    assert secured.head() == shop["head"]


def test_a_customers_answers_leave_out_the_business_own_fields(shop: dict[str, Any]) -> None:
    staff = shop["api"].read("/sales-orders/SO-1")
    assert {"salesperson", "reserved"} & set(json.dumps(staff).replace('"', " ").split())
    for path in ("/sales-orders/SO-1", "/sales-orders/SO-1/timeline", "/sales-orders/SO-1/status"):
        body = as_customer(shop, path, min_position=shop["head"]).json()
        assert _keys(body) & STAFF_FIELDS == set(), path
        assert _keys(body) & COST_FIELDS == set(), path
    timeline = as_customer(shop, "/sales-orders/SO-1/timeline").json()["items"]
    assert [row["kind"] for row in timeline][:2] == ["Created", "Submitted"]
    staff_timeline = shop["api"].read("/sales-orders/SO-1/timeline")["items"]
    assert staff_timeline[0]["actor"] == "u.manager"


def test_cost_margin_and_internal_notes_are_shown_only_to_roles_that_may_see_them(
    shop: dict[str, Any], subtests: pytest.Subtests
) -> None:
    for role in ROLES:
        with subtests.test(role=role):
            _shows_only_what_the_role_may_see(shop, role)


def _shows_only_what_the_role_may_see(shop: dict[str, Any], role: str) -> None:
    secured: Secured = shop["secured"]
    headers = secured.as_role(role)
    single = secured.client.get("/products/SKU-1", headers=headers)
    listed = secured.client.get("/products", headers=headers)
    may_see = "fields:cost" in GRANTS[role]
    for response in (single, listed):
        if response.status_code == 403:  # the route itself is not the role's
            continue
        assert response.status_code == 200, response.text
        assert ("standard_cost" in _keys(response.json())) == may_see, (role, response.url)
    if role in ("finance", "manager", "admin"):
        assert "standard_cost" in _keys(single.json())
    order = secured.client.get("/sales-orders/SO-1", headers=headers)
    if order.status_code != 403:
        assert order.status_code == 200, order.text
        keys = _keys(order.json())
        assert ("margin" in keys) == ("standard_cost" in keys) == may_see, role
        assert ("internal_notes" in keys) == ("fields:internal" in GRANTS[role]), role
        assert ("hold firm" in order.text) == ("fields:internal" in GRANTS[role]), role
        past = secured.client.get("/audit/as-of/sales-orders/SO-1", headers=headers,
                                  params={"position": shop["head"]})  # fmt: skip
        if past.status_code != 403:  # replay output is redacted alike
            assert past.status_code == 200, past.text
            notes_shown = "internal_notes" in _keys(past.json())
            assert notes_shown == ("fields:internal" in GRANTS[role]), role
        if may_see:  # 2 × 10.00 sold; the test product's standard cost is shown with it
            line = order.json()["lines"][0]
            cost = Decimal(line["standard_cost"])
            assert Decimal(line["margin"]) == Decimal("20.00") - 2 * cost
    if role == "auditor":  # reads products and the log, never the cost
        assert single.status_code == 200
        export = secured.client.get("/audit/export", headers=headers)
        assert_problem(export, 403, "forbidden")


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for item in value for k in _keys(item)}
    return set()
