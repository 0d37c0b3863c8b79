"""Receivables over HTTP: a shipment made through the API shows up at once as money owed."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem, ship_and_bill
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


def test_a_payment_is_allocated_reversed_and_shows_in_open_items_over_http(
    approved: Api,
) -> None:
    ship_and_bill(approved)
    paid = {"bank_ref": "BANK-1", "payer": "Contoso", "amount": "10.00", "currency": "EUR",
            "value_date": "2026-03-01"}  # fmt: skip
    approved.ok("/payments", paid, 201)
    allocated = approved.ok(
        "/payments/BANK-1/allocations", {"invoice_number": "INV-2026-000001", "amount": "4"}, 201
    )
    assert (allocated["unapplied"], allocated["invoice"]["open"]) == ("6.00", "6.00")

    before = approved.read("/open-items", customer="C-1", as_of="2026-02-28",
                           min_position=allocated["position"])  # fmt: skip
    after = approved.read("/open-items", customer="C-1", as_of="2026-03-20")
    assert [(i["number"], i["open"], i["status"]) for i in before["items"]] == [
        ("INV-2026-000001", "10", "open"),
    ]
    assert [(i["number"], i["open"], i["status"], i["days_past_due"]) for i in after["items"]] == [
        ("INV-2026-000001", "6", "overdue", 8),
    ]
    assert after["total_open"] == {"EUR": "6"}

    head = approved.head()
    assert_problem(approved.post("/payments", paid), 409, "already-exists")
    assert_problem(approved.post("/payments/BANK-1/allocations",
                                 {"invoice_number": "INV-2026-000001", "amount": "7"}),
                   409, "over-allocation")  # fmt: skip
    assert_problem(approved.post("/payments", {**paid, "bank_ref": "B2", "amount": 1.5}), 422,
                   "invalid-input")  # fmt: skip
    assert_problem(approved.post("/payments", {**paid, "bank_ref": "B3", "currency": "eur"}), 422,
                   "invalid-input")  # fmt: skip
    assert approved.head() == head
    reversed_ = approved.ok("/payments/BANK-1/allocations/BANK-1-A1/reverse",
                            {"reason": "posted to the wrong invoice"})  # fmt: skip
    assert reversed_["unapplied"] == "10.00"
    assert_problem(approved.post("/payments/BANK-1/allocations/BANK-1-A1/reverse",
                                 {"reason": "again"}), 409, "already-unallocated")  # fmt: skip
    payment = approved.get("/payments/BANK-1").json()
    assert [(a["allocation_id"], a["active"]) for a in payment["allocations"]] == [
        ("BANK-1-A1", False),
    ]


def test_an_invoice_status_is_derived_for_any_day_from_what_took_effect_by_then(
    approved: Api,
) -> None:
    ship_and_bill(approved)
    for ref, amount, day in (("BANK-1", "4.00", "2026-03-01"), ("BANK-2", "6.00", "2026-03-25")):
        approved.ok("/payments", {"bank_ref": ref, "payer": "Contoso", "amount": amount,
                                  "currency": "EUR", "value_date": day}, 201)  # fmt: skip
        allocation = {"invoice_number": "INV-2026-000001", "amount": amount}
        last = approved.ok(f"/payments/{ref}/allocations", allocation, 201)

    def status(day: str) -> tuple[str, str, str, int]:
        found = approved.read("/invoices/INV-2026-000001/status", as_of=day,
                              min_position=last["position"])  # fmt: skip
        assert (found["as_of"], found["total"]) == (day, "10")
        return found["status"], found["paid"], found["open"], found["days_past_due"]

    assert status("2026-02-09") == ("not_issued", "0", "0", 0)
    assert status("2026-02-10") == ("open", "0", "10", 0)
    assert status("2026-03-01") == ("partially_paid", "4", "6", 0)
    assert status("2026-03-20") == ("overdue", "4", "6", 8)
    assert status("2026-03-25") == ("paid", "10", "0", 0)
    assert_problem(approved.get("/invoices/INV-2026-000009/status"), 404, "not-found")
    assert_problem(
        approved.get("/invoices/INV-2026-000001/status", as_of="25.03.2026"), 422, "invalid-input"
    )
