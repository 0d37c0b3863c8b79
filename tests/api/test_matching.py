"""Payment matching over HTTP: the rules as data, a matching run, the unapplied-cash queue
with suggestions, manual matching and undoing — with bad input answered as problem+json and
nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem
from tests.integration.helpers import stored_events


def customer(api: Api, code: str, name: str) -> None:
    body = {"code": code, "name": name, "billing_address": "a", "shipping_address": "b",
            "region": "north", "payment_terms_days": 14}  # fmt: skip
    api.ok("/customers", body, 201)


def invoice(api: Api, number: str, account: str, price: str) -> str:
    """One shipped unit at `price`, billed today; returns the invoice number."""
    order = {"number": number, "customer": account, "warehouse": "WH-1", "salesperson": "ann",
             "lines": [{"sku": "SKU-1", "quantity": "1", "unit_price": price}]}  # fmt: skip
    api.ok("/sales-orders", order, 201)
    api.ok(f"/sales-orders/{number}/submit")
    shipped = {"shipment_ref": f"SH-{number}", "lines": [{"line_no": 1, "quantity": "1"}],
               "carrier": "DHL", "tracking_number": "T1"}  # fmt: skip
    api.ok(f"/sales-orders/{number}/shipments", shipped, 201)
    billed = {"customer": account,
              "shipments": [{"order_number": number, "shipment_ref": f"SH-{number}"}]}  # fmt: skip
    return str(api.ok("/invoices", billed, 201)["number"])


def pay(api: Api, ref: str, payer: str, amount: str, remittance: str = "") -> dict[str, Any]:
    body = {"bank_ref": ref, "payer": payer, "amount": amount, "currency": "EUR",
            "value_date": "2026-01-05", "remittance": remittance}  # fmt: skip
    return api.ok("/payments", body, 201)


@pytest.fixture
def billed(stocked: Api) -> tuple[Api, list[str]]:
    """Acme GmbH owes 100.00 and Beta Holdings Ltd 80.00, invoiced today."""
    customer(stocked, "C-ACME", "Acme GmbH")
    customer(stocked, "C-BETA", "Beta Holdings Ltd")
    numbers = [
        invoice(stocked, "SO-1", "C-ACME", "100.00"),
        invoice(stocked, "SO-2", "C-BETA", "80"),
    ]
    return stocked, numbers


def test_a_run_matches_payments_just_recorded_and_the_queue_shows_the_rest(
    billed: tuple[Api, list[str]],
) -> None:
    api, (acme, beta) = billed
    spaced = acme.replace("-", " ").lower()
    pay(api, "P1", "Somebody", "80.00", f"paying {beta.replace('-', '')}")
    pay(api, "P2", "ACME GMBH", "100.00")
    last = pay(api, "P3", "Unknown Corp", "10.00", spaced)  # names an invoice paid by then

    response = api.post("/matching/run")

    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["examined"], summary["matched_payments"], summary["unmatched"]) == (3, 2, 1)
    assert summary["matched_by_rule"] == {
        "invoice_reference": 1, "exact_amount_customer": 1, "oldest_open_items": 0,
    }  # fmt: skip
    assert summary["amount_by_rule"]["exact_amount_customer"] == {"EUR": "100"}
    assert response.headers["X-Log-Position"] == str(summary["position"])
    assert {(a["bank_ref"], a["invoice_number"], a["rule"]) for a in summary["allocations"]} == {
        ("P1", beta, "invoice_reference"), ("P2", acme, "exact_amount_customer"),
    }  # fmt: skip
    p2 = api.read("/payments/P2")
    assert (p2["unapplied"], p2["allocations"][0]["rule"]) == ("0.00", "exact_amount_customer")
    queue = api.read("/payments/unapplied", min_position=summary["position"])
    assert [(row["bank_ref"], row["unapplied"]) for row in queue["items"]] == [("P3", "10")]
    assert queue["items"][0]["suggestions"] == []
    assert queue["next_cursor"] is None
    assert last["position"] < summary["position"]


def test_an_allocation_undone_by_hand_is_suggested_and_matched_again(
    billed: tuple[Api, list[str]],
) -> None:
    api, (acme, _) = billed
    pay(api, "P2", "Acme GmbH.", "100.00")
    api.post("/matching/run")
    undone = api.ok(
        "/payments/P2/allocations/P2-A1/reverse", {"reason": "wrong invoice"}, X_Actor="fiona"
    )

    queue = api.read("/payments/unapplied", min_position=undone["position"])

    (row,) = queue["items"]
    assert row["bank_ref"] == "P2"
    (suggestion,) = row["suggestions"]
    assert (suggestion["invoice_number"], suggestion["rule"], suggestion["amount"]) == (
        acme, "exact_amount_customer", "100",
    )  # fmt: skip
    assert "payer 'Acme GmbH.' ≈ customer 'Acme GmbH' (score 100)" in suggestion["explanation"]
    assert api.read("/payments/P2")["unapplied"] == "100.00"  # a suggestion is not applied
    again = api.client.post("/matching/run", json={"bank_refs": ["P2"]}).json()
    assert (again["examined"], again["matched_payments"]) == (1, 1)
    assert [a["active"] for a in api.read("/payments/P2")["allocations"]] == [False, True]


def test_matching_by_hand_records_rule_manual_and_the_actor(
    billed: tuple[Api, list[str]],
) -> None:
    api, (acme, _) = billed
    pay(api, "P7", "Who knows", "30.00")

    done = api.ok("/payments/P7/allocations", {"invoice_number": acme, "amount": "30.00"},
                  201, X_Actor="fiona", X_Role="finance")  # fmt: skip

    assert done["allocations"][0]["rule"] == "manual"
    ledger = api.runtime.ledger
    allocated = [e for _, e in stored_events(ledger) if type(e).__qualname__ == "Payment.Allocated"]
    assert [(e.rule, e.meta["actor"], e.meta["role"]) for e in allocated] == [
        ("manual", "fiona", "finance")
    ]


def test_the_queue_pages_oldest_first_by_value_date_then_reference(stocked: Api) -> None:
    for ref, day in (("B", "2026-01-02"), ("A", "2026-01-02"), ("C", "2026-01-01")):
        body = {"bank_ref": ref, "payer": "X", "amount": "1", "currency": "EUR",
                "value_date": day}  # fmt: skip
        last = stocked.ok("/payments", body, 201)

    first = stocked.read("/payments/unapplied", limit=2, min_position=last["position"])
    rest = stocked.read("/payments/unapplied", limit=2, after=first["next_cursor"])

    assert [row["bank_ref"] for row in first["items"]] == ["C", "A"]
    assert first["next_cursor"] == "2026-01-02/A"
    assert ([row["bank_ref"] for row in rest["items"]], rest["next_cursor"]) == (["B"], None)
    assert stocked.read("/payments/unapplied", currency="USD")["items"] == []


def test_matching_rules_are_read_and_published_as_versions(api: Api) -> None:
    default = api.get("/matching-rules")
    assert (default.status_code, default.headers["ETag"]) == (200, '"0"')
    assert default.json()["version"] == 0
    assert [r["rule"] for r in default.json()["rules"]["rules"]] == [
        "invoice_reference", "exact_amount_customer", "oldest_open_items",
    ]  # fmt: skip
    assert default.json()["rules"]["rules"][2]["tolerance_percent"] == "0.5"
    rules = {"rules": [{"rule": "exact_amount_customer", "threshold": 95},
                       {"rule": "invoice_reference"}], "description": "names first"}  # fmt: skip

    published = api.client.put("/matching-rules", json=rules, headers={"If-Match": '"0"'})

    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.headers["ETag"]) == (1, '"1"')
    now = api.read("/matching-rules")
    assert now["version"] == 1
    assert now["rules"]["rules"][0] == {
        "rule": "exact_amount_customer", "enabled": True, "threshold": 95,
    }  # fmt: skip
    head = api.head()
    stale = api.client.put("/matching-rules", json=rules, headers={"If-Match": '"0"'})
    assert_problem(stale, 409, "already-exists")
    assert_problem(api.client.put("/matching-rules", json=rules, headers={"If-Match": '"7"'}),
                   412, "stale-version")  # fmt: skip
    for bad in (
        {"rules": [{"rule": "guess"}]},
        {"rules": [{"rule": "exact_amount_customer", "threshold": 30}]},
        {"rules": [{"rule": "oldest_open_items", "tolerance_amount": 1.5}]},
        [{"rule": "invoice_reference"}],
    ):
        assert_problem(api.client.put("/matching-rules", json=bad), 422, "invalid-input")
    assert api.head() == head


def test_bad_matching_requests_are_problems_and_store_nothing(
    billed: tuple[Api, list[str]],
) -> None:
    api, _ = billed
    pay(api, "P1", "Acme GmbH", "100.00")
    head = api.head()

    for body, status, rule in (
        ({"bank_refs": []}, 422, "invalid-input"),
        ({"bank_refs": ["not a ref"]}, 422, "invalid-input"),
        ({"bank_refs": ["P1", "P404"]}, 404, "not-found"),
        ({"bank_ref": "P1"}, 422, "invalid-input"),
    ):
        assert_problem(api.client.post("/matching/run", json=body), status, rule)
    for params in ({"after": "yesterday"}, {"after": "2026-02-30/P1"}, {"limit": 0},
                   {"currency": "eur"}):  # fmt: skip
        assert_problem(api.get("/payments/unapplied", **params), 422, "invalid-input")
    assert api.head() == head


def test_an_uploaded_statement_is_matched_at_once_with_the_rule_named_per_payment(
    billed: tuple[Api, list[str]],
) -> None:
    api, (acme, beta) = billed
    statement = (
        "bank_ref,payer,amount,currency,value_date,remittance\n"
        f"ST-1,Somebody,80.00,EUR,2026-01-05,paying {beta}\n"
        "ST-2,ACME GMBH.,100.00,EUR,2026-01-06,thanks\n"
        "ST-3,Unknown Corp,12.00,EUR,2026-01-07,deposit\n"
    ).encode()
    files = {"file": ("bank.csv", statement, "text/csv")}

    response = api.client.post("/bank-statements", files=files)

    assert response.status_code == 201, response.text
    summary = response.json()
    assert (summary["imported"], summary["unmatched"]) == (3, 1)
    assert summary["matched_by_rule"] == {"invoice_reference": 1, "exact_amount_customer": 1}
    assert {(a["bank_ref"], a["invoice_number"], a["rule"])
            for a in summary["matching"]["allocations"]} == {
        ("ST-1", beta, "invoice_reference"), ("ST-2", acme, "exact_amount_customer"),
    }  # fmt: skip
    assert response.headers["X-Log-Position"] == str(summary["position"])
    assert api.read("/payments/ST-2")["allocations"][0]["rule"] == "exact_amount_customer"
    shown = api.read(f"/bank-statements/{summary['statement_id']}",
                     min_position=summary["position"])  # fmt: skip
    assert (shown["matched_by_rule"], shown["unmatched"]) == (summary["matched_by_rule"], 1)
    queue = api.read("/payments/unapplied", min_position=summary["position"])
    assert [row["bank_ref"] for row in queue["items"]] == ["ST-3"]


def test_an_upload_can_leave_matching_for_later(billed: tuple[Api, list[str]]) -> None:
    api, (acme, _) = billed
    statement = (
        "bank_ref,payer,amount,currency,value_date,remittance\n"
        f"ST-9,Acme GmbH,100.00,EUR,2026-01-05,{acme}\n"
    ).encode()
    files = {"file": ("later.csv", statement, "text/csv")}

    response = api.client.post("/bank-statements", files=files, data={"auto_match": "false"})

    summary = response.json()
    assert response.status_code == 201, response.text
    assert (summary["matched_by_rule"], summary["unmatched"]) == ({}, 1)
    assert api.read("/payments/ST-9")["allocations"] == []
