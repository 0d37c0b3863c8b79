"""Receivables over HTTP: a shipment made through the API shows up at once as money owed."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.api.test_shipments import approved, selling

__all__ = ["approved", "selling"]


def test_a_shipment_shows_up_at_once_as_a_receivable(approved: Api) -> None:
    shipped = approved.ok(
        "/sales-orders/SO-1/shipments",
        {"shipment_ref": "SH-1", "lines": [{"line_no": 1, "quantity": "3"}],
         "carrier": "DHL", "tracking_number": "JD1"},
        201,
    )  # fmt: skip

    listed = approved.read("/receivables", customer="C-1", min_position=shipped["position"])

    (item,) = listed["items"]
    assert (item["order_number"], item["shipment_ref"], item["customer"]) == ("SO-1", "SH-1", "C-1")
    assert (item["net"], item["tax"], item["total"], item["currency"]) == (
        "7.5", "0", "7.5", "EUR",
    )  # fmt: skip
    assert item["status"] == "pending_invoice"
    assert item["receivable_id"] == shipped["receivable"]["id"]
    one = approved.get(f"/receivables/{item['receivable_id']}")
    assert one.status_code == 200
    body = one.json()
    assert [(x["line_no"], x["quantity"], x["amount"]) for x in body["lines"]] == [
        (1, "3", "7.5"),
    ]
    assert one.headers["ETag"] == '"1"'
    assert approved.read("/receivables", customer="C-2")["items"] == []


def test_an_unknown_or_malformed_receivable_id_is_a_problem(api: Api) -> None:
    assert_problem(api.get("/receivables/00000000-0000-0000-0000-000000000000"), 404, "not-found")
    assert_problem(api.get("/receivables/not-a-uuid"), 422, "invalid-input")
    assert_problem(api.get("/receivables", status="paid"), 422, "invalid-input")


def test_an_invoice_bills_a_shipment_over_http_and_refuses_it_twice(
    approved: Api,
) -> None:
    shipped = approved.ok(
        "/sales-orders/SO-1/shipments",
        {"shipment_ref": "SH-1", "lines": [{"line_no": 1, "quantity": "4"}],
         "carrier": "DHL", "tracking_number": "JD1"},
        201,
    )  # fmt: skip
    body = {"customer": "C-1", "invoice_date": "2026-02-10",
            "shipments": [{"order_number": "SO-1", "shipment_ref": "SH-1"}]}  # fmt: skip

    issued = approved.ok("/invoices", body, 201)

    assert (issued["number"], issued["total"], issued["due_date"]) == (
        "INV-2026-000001", "10.00", "2026-03-12",
    )  # fmt: skip
    assert issued["position"] > shipped["position"]
    one = approved.get("/invoices/INV-2026-000001")
    assert one.json()["shipments"] == [{"order_number": "SO-1", "shipment_ref": "SH-1"}]
    listed = approved.read("/invoices", customer="C-1", min_position=issued["position"])
    assert [i["number"] for i in listed["items"]] == ["INV-2026-000001"]
    owed = approved.read("/receivables", status="invoiced", min_position=issued["position"])
    assert [(r["shipment_ref"], r["invoice_number"]) for r in owed["items"]] == [
        ("SH-1", "INV-2026-000001"),
    ]
    head = approved.head()
    assert_problem(approved.post("/invoices", body), 409, "already-invoiced")
    unknown = {**body, "shipments": [{"order_number": "SO-1", "shipment_ref": "SH-9"}]}
    assert_problem(approved.post("/invoices", unknown), 404, "not-found")
    assert_problem(approved.post("/invoices", {**body, "shipments": []}), 422, "invalid-input")
    assert_problem(approved.post("/invoices", {**body, "invoice_date": "10.02.2026"}), 422,
                   "invalid-input")  # fmt: skip
    assert approved.head() == head
    assert_problem(approved.get("/invoices/INV-2026-000404"), 404, "not-found")
