"""Invoice credits and write-offs, and credit-note pricing, without a database: what an
invoice owes on each date, and every refusal by its rule."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.credit_notes import (
    Billed,
    InvoiceTotals,
    ReturnLine,
    credit_tax,
    price_return,
)
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.invoices import Invoice
from tests.unit.given import D, given, then, when

INV = "INV-2026-000001"


def issued(total: str = "100.00") -> tuple[type, dict[str, Any]]:
    return Invoice.Issued, {
        "number": INV, "customer": "C-1", "currency": "EUR", "receivables": [],
        "net": D(total), "tax": D(0), "total": D(total), "invoice_date": date(2026, 3, 1),
        "payment_terms_days": 30, "due_date": date(2026, 3, 31),
    }  # fmt: skip


def paid(amount: str, on: date, allocation: str = "B-A1") -> tuple[type, dict[str, Any]]:
    return Invoice.PaymentApplied, {
        "allocation_id": allocation, "bank_ref": "B", "amount": D(amount), "effective_date": on,
    }  # fmt: skip


def bounced(amount: str, on: date, allocation: str = "B-A1") -> tuple[type, dict[str, Any]]:
    return Invoice.PaymentReversed, {
        "allocation_id": allocation, "amount": D(amount), "reason": "bounced",
        "effective_date": on,
    }  # fmt: skip


def requested(amount: str, by: str = "ann") -> tuple[type, dict[str, Any]]:
    return Invoice.WriteOffRequested, {
        "write_off_id": f"{INV}-W1", "amount": D(amount), "reason": "small", "requested_by": by,
    }  # fmt: skip


def invoice(*facts: tuple[type, dict[str, Any]]) -> Invoice:
    return given(Invoice, Invoice.create_id(INV), issued(), *facts)


def test_what_an_invoice_owes_on_a_date_is_its_least_balance_from_then_on() -> None:
    # Paid 03-20, bounced 04-10: it owes nothing from 03-20 to 04-09, 100 before and after.
    owing = invoice(paid("100.00", date(2026, 3, 20)), bounced("100.00", date(2026, 4, 10)))

    assert owing.open_amount == D("100.00")
    assert owing.open_from(date(2026, 3, 10)) == D(0)
    assert owing.open_from(date(2026, 4, 10)) == D("100.00")


def test_a_credit_is_recorded_once_checked_against_every_later_date() -> None:
    owing = invoice(paid("60.00", date(2026, 3, 20)), bounced("60.00", date(2026, 4, 10)))

    with pytest.raises(RuleViolation) as over:
        owing.credit("CN-1", "price_correction", D(50), D(0), D(50), date(2026, 3, 5), [])
    with pytest.raises(RuleViolation) as early:
        owing.credit("CN-1", "price_correction", D(1), D(0), D(1), date(2026, 2, 28), [])
    assert (over.value.rule, early.value.rule) == ("over-credit", "credit-note-date")
    assert owing.pending_events == []

    events = when(owing, lambda i: i.credit(
        "CN-1", "price_correction", D(40), D(0), D(40), date(2026, 3, 5), []))  # fmt: skip

    assert then(events) == [("Credited", {
        "credit_note_number": "CN-1", "kind": "price_correction", "net": D(40), "tax": D(0),
        "amount": D(40), "effective_date": date(2026, 3, 5), "returned": [],
    })]  # fmt: skip
    assert (owing.credited, owing.open_amount) == (D(40), D(60))


def test_a_write_off_is_decided_by_someone_else_once_within_what_is_owed() -> None:
    with pytest.raises(RuleViolation) as asked:
        invoice().request_write_off(D("100.01"), "too much", "ann")
    assert asked.value.rule == "over-write-off"
    owing = invoice(requested("30.00"), paid("80.00", date(2026, 3, 20)))

    refusals = [
        (lambda: owing.approve_write_off(f"{INV}-W1", "ann", date(2026, 4, 1)),
         "write-off-self-approval"),
        (lambda: owing.approve_write_off(f"{INV}-W1", "bea", date(2026, 4, 1)),
         "over-write-off"),  # 20 owed now
        (lambda: owing.reject_write_off(f"{INV}-W1", "ann", "no"), "write-off-self-approval"),
    ]  # fmt: skip
    for call, rule in refusals:
        with pytest.raises(RuleViolation) as error:
            call()
        assert error.value.rule == rule
    with pytest.raises(NotFound):
        owing.approve_write_off(f"{INV}-W2", "bea", date(2026, 4, 1))
    assert owing.pending_events == []

    events = when(owing, lambda i: i.reject_write_off(f"{INV}-W1", "bea", "chase it"))

    assert [name for name, _ in then(events)] == ["WriteOffRejected"]
    with pytest.raises(RuleViolation) as twice:
        owing.approve_write_off(f"{INV}-W1", "cid", date(2026, 4, 1))
    assert twice.value.rule == "write-off-decided"


def test_an_approved_write_off_reduces_what_is_owed_from_its_date() -> None:
    owing = invoice(requested("30.00"))

    when(owing, lambda i: i.approve_write_off(f"{INV}-W1", "bea", date(2026, 4, 1)))

    assert (owing.written_off, owing.open_amount) == (D("30.00"), D("70.00"))
    assert owing.open_from(date(2026, 3, 31)) == D("70.00")


LINE = Billed("SKU-1", D("0.05"), D("0.1"), D(3), D("0.14"))  # 3 × 0.045 = 0.135 → 0.14


def test_a_return_is_priced_per_line_and_the_last_of_a_line_takes_what_is_left() -> None:
    billed = {("SO-1", 1): LINE}
    one = [ReturnLine(None, 1, None, D(1))]

    first = price_return(INV, billed, one, {}, "EUR")
    last = price_return(INV, billed, one, {("SO-1", 1): (D(2), D("0.10"))}, "EUR")

    assert [line["amount"] for line in first + last] == [D("0.05"), D("0.04")]
    with pytest.raises(RuleViolation) as over:
        price_return(INV, billed, one, {("SO-1", 1): (D(3), D("0.14"))}, "EUR")
    assert over.value.rule == "return-over-shipped"


def test_a_returned_line_must_name_one_line_of_the_invoice() -> None:
    billed = {("SO-1", 1): LINE, ("SO-2", 1): LINE}

    with pytest.raises(InvalidInput):  # SO-1 or SO-2?
        price_return(INV, billed, [ReturnLine(None, 1, None, D(1))], {}, "EUR")
    with pytest.raises(InvalidInput):
        price_return(INV, billed, [ReturnLine("SO-1", None, None, D(1))], {}, "EUR")
    with pytest.raises(RuleViolation) as missing:
        price_return(INV, billed, [ReturnLine("SO-3", 1, None, D(1))], {}, "EUR")
    assert missing.value.rule == "return-not-invoiced"


@pytest.mark.parametrize(
    ("net", "credited_net", "credited_tax", "expected"),
    [
        ("10.05", "0", "0", "1.91"),  # 1.9095 rounds half-up
        ("0.05", "0", "0", "0.01"),  # 0.0095 → 0.01
        ("50.00", "50.00", "9.49", "9.51"),  # completes the net: exactly what is left
        ("40.00", "50.00", "9.49", "7.60"),
        ("40.00", "0", "18.00", "1.00"),  # never more than is left of the tax
    ],
)
def test_tax_on_a_credit_is_at_the_rate_and_never_more_than_was_charged(
    net: str, credited_net: str, credited_tax: str, expected: str
) -> None:
    charged = InvoiceTotals(D("100.00"), D("19.00"), D(credited_net), D(credited_tax))

    assert credit_tax(D(net), D("0.19"), charged, "EUR") == D(expected)
