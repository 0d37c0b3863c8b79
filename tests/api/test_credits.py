"""Credit notes, write-offs and the customer statement over HTTP: the happy paths, and every
bad input answered as problem+json with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem, ship_and_bill
from tests.api.test_shipments import approved, selling

__all__ = ["approved", "selling"]

INV = "INV-2026-000001"
W1 = f"{INV}-W1"


@pytest.fixture
def billed(approved: Api) -> Api:
    """INV-2026-000001 (2026-02-10, due 03-12) bills SH-1: 4 of SO-1's line 1 at 2.50."""
    ship_and_bill(approved)
    return approved


def returning(quantity: Any, **fields: Any) -> dict[str, Any]:
    return {"kind": "return", "reason": "damaged in transit", "credit_note_date": "2026-02-15",
            "lines": [{"line_no": 1, "quantity": quantity}], **fields}  # fmt: skip


def test_a_credit_note_is_issued_read_listed_and_cancelled_over_http(billed: Api) -> None:
    response = billed.post(f"/invoices/{INV}/credit-notes", returning("1"))

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/credit-notes/CN-2026-000001"
    issued = response.json()
    assert (issued["number"], issued["total"], issued["invoice"]["open"]) == (
        "CN-2026-000001", "2.50", "7.50",
    )  # fmt: skip
    one = billed.get("/credit-notes/CN-2026-000001")
    assert (one.status_code, one.headers["ETag"], one.json()["lines"][0]["sku"]) == (
        200, '"1"', "SKU-1",
    )  # fmt: skip
    listed = billed.read("/credit-notes", customer="C-1", min_position=issued["position"])
    assert [(n["number"], n["total"], n["status"]) for n in listed["items"]] == [
        ("CN-2026-000001", "2.5", "issued"),
    ]
    owed = billed.read("/open-items", customer="C-1", as_of="2026-02-20")
    assert [(i["open"], i["credited"]) for i in owed["items"]] == [("7.5", "2.5")]
    invoice = billed.read(f"/invoices/{INV}")
    assert (invoice["credited"], invoice["open"]) == ("2.50", "7.50")

    cancelled = billed.ok("/credit-notes/CN-2026-000001/cancel",
                          {"reason": "never returned", "effective_date": "2026-02-18"})  # fmt: skip
    assert (cancelled["status"], cancelled["invoice"]["open"]) == ("cancelled", "10.00")
    assert_problem(billed.post("/credit-notes/CN-2026-000001/cancel", {"reason": "again"}), 409,
                   "credit-note-cancelled")  # fmt: skip
    listed = billed.read("/credit-notes", invoice_number=INV, min_position=cancelled["position"])
    assert [n["status"] for n in listed["items"]] == ["cancelled"]


def test_bad_credit_notes_are_problems_and_store_nothing(billed: Api) -> None:
    billed.ok(f"/invoices/{INV}/credit-notes", returning("3"), 201)
    head = billed.head()
    path = f"/invoices/{INV}/credit-notes"
    correction = {"kind": "price_correction", "reason": "discount", "amount": "5"}

    cases = [
        (path, returning("2"), 409, "return-over-shipped"),  # 1 left of 4
        (path, {**correction, "amount": "2.51"}, 409, "over-credit"),  # 2.50 open
        (path, {**correction, "credit_note_date": "2026-02-01"}, 409, "credit-note-date"),
        (path, {**correction, "credit_note_date": "2026-02-14"}, 409, "invoice-date-before-last"),
        (path, {**correction, "kind": "refund"}, 422, "invalid-input"),
        (path, {**correction, "amount": 1.5}, 422, "invalid-input"),  # a JSON float
        (path, {**correction, "amount": "0"}, 422, "invalid-input"),
        (path, {**correction, "amount": "0.001"}, 422, "invalid-input"),
        (path, {**correction, "lines": [{"line_no": 1, "quantity": "1"}]}, 422, "invalid-input"),
        (path, returning("1", amount="1"), 422, "invalid-input"),
        (path, returning("-1"), 422, "invalid-input"),
        (path, returning("1", lines=[{"quantity": "1"}]), 422, "invalid-input"),
        (path, {**correction, "reason": ""}, 422, "invalid-input"),
        (path, {**correction, "colour": "red"}, 422, "invalid-input"),
        (path, {**correction, "credit_note_date": "15.02.2026"}, 422, "invalid-input"),
        ("/invoices/INV-2026-000404/credit-notes", correction, 404, "not-found"),
        ("/invoices/bad%20number/credit-notes", correction, 422, "invalid-input"),
    ]
    for where, body, status, rule in cases:
        assert_problem(billed.post(where, body), status, rule)
    assert_problem(billed.get("/credit-notes/CN-2026-000404"), 404, "not-found")
    assert_problem(billed.get("/credit-notes", limit=0), 422, "invalid-input")
    assert_problem(billed.post("/credit-notes/CN-2026-000404/cancel", {"reason": "x"}), 404,
                   "not-found")  # fmt: skip
    assert billed.head() == head


def test_a_write_off_is_requested_then_approved_by_someone_else_in_the_role(
    billed: Api,
) -> None:
    response = billed.post(f"/invoices/{INV}/write-offs", {"amount": "1.50", "reason": "small"},
                           x_actor="ann")  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/write-offs/{W1}"
    requested = response.json()
    pending = billed.read("/write-offs", status="pending", min_position=requested["position"])
    assert [(w["id"], w["amount"], w["requested_by"]) for w in pending["items"]] == [
        (W1, "1.5", "ann"),
    ]
    head = billed.head()
    approve = f"/write-offs/{W1}/approve"
    # An administrator holds the permission, but the approver roles are a business rule.
    refused = assert_problem(billed.post(approve, x_actor="boss"), 409, "write-off-role")
    assert "finance_manager or manager" in refused["detail"]
    assert_problem(billed.post(approve, x_actor="boss", x_role="sales"), 403, "forbidden")
    assert_problem(billed.post(approve, x_actor="ann", x_role="manager"), 409,
                   "write-off-self-approval")  # fmt: skip
    assert_problem(billed.post(approve, {"effective_date": "2026-02-01"}, x_actor="boss",
                               x_role="manager"), 409, "write-off-date")  # fmt: skip
    assert billed.head() == head

    approved = billed.ok(approve, {"effective_date": "2026-03-01"}, x_actor="boss",
                         x_role="finance_manager")  # fmt: skip

    assert (approved["status"], approved["decided_by"], approved["invoice"]["open"]) == (
        "approved", "boss", "8.50",
    )  # fmt: skip
    one = billed.read(f"/write-offs/{W1}", min_position=approved["position"])
    assert (one["status"], one["decided_role"], one["effective_date"]) == (
        "approved", "finance_manager", "2026-03-01",
    )  # fmt: skip
    assert billed.read("/write-offs", status="pending")["items"] == []
    owed = billed.read("/open-items", customer="C-1", as_of="2026-03-01")
    assert [i["open"] for i in owed["items"]] == ["8.5"]
    assert_problem(billed.post(approve, x_actor="boss", x_role="manager"), 409,
                   "write-off-decided")  # fmt: skip


def test_bad_write_offs_are_problems_and_store_nothing(billed: Api) -> None:
    billed.ok(f"/invoices/{INV}/write-offs", {"amount": "1", "reason": "small"}, 201,
              x_actor="ann")  # fmt: skip
    head = billed.head()
    path = f"/invoices/{INV}/write-offs"
    boss = {"x_actor": "boss", "x_role": "manager"}

    cases = [
        (path, {"amount": "10.01", "reason": "all"}, 409, "over-write-off"),
        (path, {"amount": "0", "reason": "none"}, 422, "invalid-input"),
        (path, {"amount": "1", "reason": ""}, 422, "invalid-input"),
        (path, {"amount": "1"}, 422, "invalid-input"),
        ("/invoices/INV-2026-000404/write-offs", {"amount": "1", "reason": "x"}, 404,
         "not-found"),
        (f"/write-offs/{INV}-W9/approve", None, 404, "not-found"),
        ("/write-offs/W1/approve", None, 404, "not-found"),
        (f"/write-offs/{W1}/reject", {}, 422, "invalid-input"),
        (f"/write-offs/{W1}/approve", {"effective_date": "soon"}, 422, "invalid-input"),
    ]  # fmt: skip
    for where, body, status, rule in cases:
        assert_problem(billed.post(where, body, **boss), status, rule)
    assert_problem(billed.get("/write-offs", status="open"), 422, "invalid-input")
    assert_problem(billed.get(f"/write-offs/{INV}-W9"), 404, "not-found")
    assert billed.head() == head
    rejected = billed.ok(f"/write-offs/{W1}/reject", {"reason": "chase it"}, **boss)
    assert (rejected["status"], rejected["invoice"]["open"]) == ("rejected", "10.00")


def test_the_customer_statement_over_http(billed: Api) -> None:
    billed.ok(f"/invoices/{INV}/credit-notes", returning("1"), 201)
    billed.ok("/payments", {"bank_ref": "BANK-1", "payer": "Contoso", "amount": "10.00",
                            "currency": "EUR", "value_date": "2026-03-01"}, 201)  # fmt: skip
    paid = billed.ok("/payments/BANK-1/allocations", {"invoice_number": INV, "amount": "5"}, 201)

    found = billed.read("/customers/C-1/statement", **{
        "from": "2026-02-12", "to": "2026-03-31", "min_position": paid["position"],
    })  # fmt: skip

    assert (found["currency"], found["opening_balance"], found["closing_balance"]) == (
        "EUR", "10", "2.5",
    )  # fmt: skip
    assert [(x["date"], x["kind"], x["amount"], x["balance"]) for x in found["lines"]] == [
        ("2026-02-15", "credit_note", "-2.5", "7.5"),
        ("2026-03-01", "payment", "-5", "2.5"),
    ]
    assert (found["unapplied_cash"], found["unapplied_payments"][0]["bank_ref"]) == ("5", "BANK-1")
    owed = billed.read("/open-items", customer="C-1", as_of="2026-03-31")
    assert owed["total_open"] == {"EUR": found["closing_balance"]}
    usd = billed.read("/customers/C-1/statement", **{"from": "2026-01-01", "currency": "USD"})
    assert (usd["lines"], usd["closing_balance"]) == ([], "0")
    since_ever = billed.read(
        "/customers/C-1/statement", **{"from": "0001-01-01", "to": "2026-03-31"}
    )
    assert (since_ever["opening_balance"], since_ever["closing_balance"]) == ("0", "2.5")

    statement = "/customers/C-1/statement"
    assert_problem(billed.get("/customers/C-404/statement", **{"from": "2026-01-01"}), 404,
                   "not-found")  # fmt: skip
    assert_problem(billed.get(statement, **{"from": "2026-03-02", "to": "2026-03-01"}), 422,
                   "invalid-period")  # fmt: skip
    assert_problem(billed.get(statement), 422, "invalid-input")  # from is required
    assert_problem(billed.get(statement, **{"from": "yesterday"}), 422, "invalid-input")
    assert_problem(billed.get(statement, **{"from": "2026-01-01", "currency": "eur"}), 422,
                   "invalid-input")  # fmt: skip
