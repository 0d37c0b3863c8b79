"""Credit notes on real SQLite and PostgreSQL: numbered from their own yearly series, priced
at the invoice's lines with its tax, recorded on the invoice in the same save, never more
than the invoice owes or than it billed, cancelled only by reversing events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.ledger import Ledger
from projections import credits
from tests.integration.credits import (
    INV1,
    correct,
    give_back,
    invoiced,
    meta,
    taxed,
)
from tests.integration.helpers import names, rows, settle
from tests.integration.orders import fresh, race, saved_by
from tests.integration.test_payments import allocate, pay
from tests.integration.test_receivables import bill, two_shipments

__all__ = ["invoiced", "taxed"]

D = Decimal


def test_a_return_is_priced_at_the_invoice_lines_and_recorded_on_it_in_one_save(
    invoiced: Ledger,
) -> None:
    head = invoiced.head()

    outcome = give_back(invoiced, [{"line_no": 1, "quantity": "2"}], date(2026, 3, 5))

    assert names(saved_by(invoiced, outcome, head)) == [
        "InvoiceSeries.Opened", "InvoiceSeries.NumberTaken", "CreditNote.Issued",
        "Invoice.Credited",
    ]  # fmt: skip
    note = outcome.result
    # 2 × 19.99 less 10 % = 35.982 → 35.98; tax 35.98 × 19 % = 6.8362 → 6.84
    assert (note["number"], note["kind"], note["net"], note["tax"], note["total"]) == (
        "CN-2026-000001", "return", "35.98", "6.84", "42.82",
    )  # fmt: skip
    assert note["lines"] == [{
        "order_number": "SO-1", "line_no": 1, "sku": "SKU-1", "quantity": "2",
        "unit_price": "19.99", "discount": "0.1", "amount": "35.98",
    }]  # fmt: skip
    assert (note["invoice"]["credited"], note["invoice"]["open"]) == ("42.82", "171.44")
    assert invoiced.invoice(INV1).open_amount == D("171.44")
    assert invoiced.credit_note("CN-2026-000001").invoice_number == INV1


def test_a_price_correction_is_taxed_at_the_invoice_rate_rounded_half_up(
    invoiced: Ledger,
) -> None:
    outcome = correct(invoiced, "10.05", date(2026, 3, 5))

    # 10.05 × 19 % = 1.9095 → 1.91
    assert (outcome.result["net"], outcome.result["tax"], outcome.result["total"]) == (
        "10.05", "1.91", "11.96",
    )  # fmt: skip
    assert (outcome.result["tax_rate"], outcome.result["lines"]) == ("0.19", [])
    assert outcome.result["invoice"]["open"] == "202.30"


def test_returns_in_pieces_give_back_exactly_what_the_invoice_charged(invoiced: Ledger) -> None:
    day = date(2026, 3, 5)
    pieces = [
        {"line_no": 2, "quantity": "1"},  # 0.045 → 0.05
        {"line_no": 2, "quantity": "1"},  # 0.05 again
        {"sku": "SKU-1", "quantity": "3"},
    ]
    totals = [give_back(invoiced, [piece], day).result for piece in pieces]
    # The last of line 2 credits what is left of it (0.14 − 0.10), not 0.05; the note that
    # completes the invoice's net takes exactly what is left of its tax.
    last = give_back(
        invoiced, [{"order_number": "SO-1", "line_no": 2, "quantity": "1"},
                   {"line_no": 1, "quantity": "7"}], day,
    ).result  # fmt: skip

    assert [t["net"] for t in totals] == ["0.05", "0.05", "53.97"]
    assert [line["amount"] for line in last["lines"]] == ["0.04", "125.94"]
    nets = sum(D(n["net"]) for n in [*totals, last])
    taxes = sum(D(n["tax"]) for n in [*totals, last])
    assert (nets, taxes) == (D("180.05"), D("34.21"))
    assert (last["invoice"]["open"], last["invoice"]["credited"]) == ("0.00", "214.26")


def test_credit_notes_number_from_their_own_series_rising_with_their_dates(
    invoiced: Ledger,
) -> None:
    first = correct(invoiced, "1", date(2026, 3, 5)).result["number"]
    second = correct(invoiced, "1", date(2026, 3, 5)).result["number"]
    head = invoiced.head()
    with pytest.raises(RuleViolation) as earlier:
        correct(invoiced, "1", date(2026, 3, 4))
    assert earlier.value.rule == "invoice-date-before-last"
    assert invoiced.head() == head
    next_year = correct(invoiced, "1", date(2027, 1, 2)).result["number"]

    assert (first, second, next_year) == ("CN-2026-000001", "CN-2026-000002", "CN-2027-000001")
    # The invoices' own series is untouched.
    assert invoiced.invoice(INV1).number == INV1
    with pytest.raises(NotFound):
        invoiced.invoice("INV-2026-000002")


def test_over_credit_and_a_return_of_more_than_was_billed_are_refused_and_store_nothing(
    invoiced: Ledger,
) -> None:
    day = date(2026, 3, 5)
    give_back(invoiced, [{"line_no": 1, "quantity": "8"}], day)  # 2 of line 1 left
    head = invoiced.head()
    refusals = [
        (lambda: give_back(invoiced, [{"line_no": 1, "quantity": "3"}], day),
         "return-over-shipped"),
        (lambda: give_back(invoiced, [{"line_no": 3, "quantity": "1"}], day),
         "return-not-invoiced"),
        (lambda: give_back(invoiced, [{"order_number": "SO-2", "line_no": 1,
                                       "quantity": "1"}], day), "return-not-invoiced"),
        (lambda: correct(invoiced, "200", day), "over-credit"),  # 42.98 open
        (lambda: correct(invoiced, "1", date(2026, 2, 28)), "credit-note-date"),
    ]  # fmt: skip
    for call, rule in refusals:
        with pytest.raises(RuleViolation) as error:
            call()
        assert error.value.rule == rule, error.value.message
    one = [{"line_no": 1, "quantity": "1"}]
    bad: list[tuple[str, str, str | None, list[dict[str, str]] | None]] = [
        ("refund", "x", "1", None),
        ("return", "x", "1", one),  # a return gives lines, not an amount
        ("return", "x", None, []),
        ("return", "x", None, [{"quantity": "1"}]),  # which line?
        ("return", "x", None, [{"line_no": 1, "quantity": "0"}]),
        ("return", "x", None, [*one, {"sku": "SKU-1", "quantity": "1"}]),  # line 1 twice
        ("price_correction", "x", "0", None),
        ("price_correction", "x", "1.001", None),  # EUR has 2 decimals
        ("price_correction", "x", "-1", None),
        ("price_correction", "x", None, None),
        ("price_correction", "x", "1", one),
        ("price_correction", " ", "1", None),
    ]
    for kind, reason, amount, lines in bad:
        with pytest.raises(InvalidInput):
            invoiced.issue_credit_note(
                meta(), invoice_number=INV1, kind=kind, reason=reason, amount=amount,
                lines=lines, credit_note_date=day,
            )  # fmt: skip
    with pytest.raises(NotFound):
        correct(invoiced, "1", day, invoice="INV-2026-000404")
    assert invoiced.head() == head
    assert invoiced.invoice(INV1).open_amount == D("42.98")


def test_payments_can_only_be_allocated_to_what_credits_left_open(invoiced: Ledger) -> None:
    correct(invoiced, "100", date(2026, 3, 5))  # 119.00 credited: 95.26 open
    pay(invoiced, "BANK-1", "200.00", date(2026, 3, 20))

    with pytest.raises(RuleViolation) as error:
        allocate(invoiced, "BANK-1", INV1, "95.27")
    assert error.value.rule == "over-allocation"
    assert allocate(invoiced, "BANK-1", INV1, "95.26").result["invoice"]["open"] == "0.00"
    with pytest.raises(RuleViolation) as over:  # nothing left to credit
        correct(invoiced, "0.01", date(2026, 3, 21))
    assert over.value.rule == "over-credit"


def test_a_credit_note_never_takes_an_invoice_below_zero_on_any_later_date(
    invoiced: Ledger,
) -> None:
    # Paid in full from 03-20 until the payment bounced on 04-10: it owed nothing in between.
    pay(invoiced, "BANK-1", "214.26", date(2026, 3, 20))
    allocate(invoiced, "BANK-1", INV1, "214.26")
    invoiced.unallocate_payment(
        meta(), bank_ref="BANK-1", allocation_id="BANK-1-A1", reason="bounced",
        effective_date=date(2026, 4, 10),
    )  # fmt: skip
    head = invoiced.head()

    with pytest.raises(RuleViolation) as error:
        correct(invoiced, "10", date(2026, 3, 10))  # it would owe −11.90 from 03-20 to 04-09
    assert error.value.rule == "over-credit"
    assert "from 2026-03-10 on" in error.value.message
    assert invoiced.head() == head
    assert correct(invoiced, "10", date(2026, 4, 10)).result["invoice"]["open"] == "202.36"


def test_a_mistaken_credit_note_is_cancelled_by_reversing_events_once(invoiced: Ledger) -> None:
    give_back(invoiced, [{"line_no": 1, "quantity": "10"}], date(2026, 3, 5))
    head = invoiced.head()

    outcome = invoiced.cancel_credit_note(
        meta(), number="CN-2026-000001", reason="goods never came back",
        effective_date=date(2026, 3, 9),
    )  # fmt: skip

    assert names(saved_by(invoiced, outcome, head)) == [
        "CreditNote.Cancelled", "Invoice.CreditReversed",
    ]  # fmt: skip
    assert (outcome.result["status"], outcome.result["cancelled_date"]) == (
        "cancelled", "2026-03-09",
    )  # fmt: skip
    assert outcome.result["invoice"]["open"] == "214.26"
    head = invoiced.head()
    for number, error, rule in (
        ("CN-2026-000001", RuleViolation, "credit-note-cancelled"),
        ("CN-2026-000404", NotFound, "not-found"),
    ):
        with pytest.raises(error) as refused:
            invoiced.cancel_credit_note(meta(), number=number, reason="again")
        assert refused.value.rule == rule
    assert invoiced.head() == head
    # The goods can be returned again, for real this time.
    again = give_back(invoiced, [{"line_no": 1, "quantity": "10"}], date(2026, 3, 10))
    assert again.result["number"] == "CN-2026-000002"


def test_the_read_model_lists_credit_notes_and_their_credits_as_of_dates(
    runtime: Runtime, invoiced: Ledger
) -> None:
    give_back(invoiced, [{"line_no": 1, "quantity": "2"}], date(2026, 3, 5))
    correct(invoiced, "10.05", date(2026, 3, 6))
    invoiced.cancel_credit_note(
        meta(), number="CN-2026-000002", reason="wrong invoice", effective_date=date(2026, 3, 8)
    )
    settle(runtime)

    with runtime.store.read() as cur:
        listed = credits.list_credit_notes(
            cur, customer="C-1", invoice_number=None, after=None, limit=10
        )
        page = credits.list_credit_notes(
            cur, customer=None, invoice_number=INV1, after=listed[0]["position"], limit=10
        )
    assert [(n["number"], n["kind"], n["total"], n["status"]) for n in listed] == [
        ("CN-2026-000001", "return", D("42.82"), "issued"),
        ("CN-2026-000002", "price_correction", D("11.96"), "cancelled"),
    ]
    assert [n["number"] for n in page] == ["CN-2026-000002"]
    found = rows(
        runtime,
        "SELECT credit_id, kind, amount, effective_date, reversed_date FROM invoice_credits"
        " ORDER BY credit_id",
    )
    assert [(r["credit_id"], r["kind"], D(str(r["amount"])), r["effective_date"],
             r["reversed_date"]) for r in found] == [
        ("CN-2026-000001", "credit_note", D("42.82"), "2026-03-05", None),
        ("CN-2026-000002", "credit_note", D("11.96"), "2026-03-06", "2026-03-08"),
    ]  # fmt: skip
    runtime.runner.rebuild("receivables")
    with runtime.store.read() as cur:
        rebuilt = credits.list_credit_notes(
            cur, customer="C-1", invoice_number=None, after=None, limit=10
        )
    assert rebuilt == listed


@pytest.mark.postgres
def test_racing_credit_notes_take_gapless_numbers_and_never_over_credit(
    pg_sales: Ledger,
) -> None:
    two_shipments(pg_sales)
    bill(pg_sales, "SH-1", "SH-2", invoice_date=date(2026, 3, 1))  # 15.00

    outcomes = race(4, lambda n: correct(pg_sales, "4.00", date(2026, 3, 5)))

    issued = sorted(o.result["number"] for o in outcomes if isinstance(o, Outcome))
    refused = [o for o in outcomes if isinstance(o, RuleViolation)]
    assert issued == ["CN-2026-000001", "CN-2026-000002", "CN-2026-000003"], outcomes
    assert [r.rule for r in refused] == ["over-credit"]
    other = fresh(pg_sales)
    try:
        assert other.invoice(INV1).open_amount == D("3.00")
    finally:
        other.close()
