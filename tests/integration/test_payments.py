"""Payments on real SQLite and PostgreSQL: recorded once per bank reference, allocated to
invoices without ever exceeding what is unapplied or open, undone only by reversing events,
and open items derived as of any date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.exceptions import AlreadyExists, InvalidInput, RuleViolation
from domain.ledger import Ledger
from projections import queries
from tests.conftest import command_meta as meta
from tests.integration.helpers import names, settle
from tests.integration.orders import race, saved_by
from tests.integration.test_receivables import bill, two_shipments

D = Decimal


def pay(ledger: Ledger, ref: str, amount: str, on: date, currency: str = "EUR") -> Outcome:
    return ledger.record_payment(
        meta("record_payment"), bank_ref=ref, payer="Contoso Ltd", amount=amount,
        currency_code=currency, value_date=on, remittance=f"payment {ref}",
    )  # fmt: skip


def allocate(ledger: Ledger, ref: str, invoice: str, amount: str, **extra: object) -> Outcome:
    return ledger.allocate_payment(
        meta("allocate_payment"), bank_ref=ref, invoice_number=invoice, amount=amount,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def invoiced(sales: Ledger) -> Ledger:
    """INV-2026-000001 (SH-1, 6.00, 2026-03-01, due 03-31) and INV-2026-000002 (SH-2,
    9.00, 2026-03-10, due 04-09), both for C-1."""
    two_shipments(sales)
    bill(sales, "SH-1", invoice_date=date(2026, 3, 1))
    bill(sales, "SH-2", invoice_date=date(2026, 3, 10))
    return sales


INV1, INV2 = "INV-2026-000001", "INV-2026-000002"


def test_an_allocation_is_recorded_on_the_payment_and_the_invoice_in_one_save(
    invoiced: Ledger,
) -> None:
    pay(invoiced, "BANK-1", "10.00", date(2026, 3, 20))
    head = invoiced.head()

    outcome = allocate(invoiced, "BANK-1", INV1, "6.00")

    found = saved_by(invoiced, outcome, head)
    assert names(found) == ["Payment.Allocated", "Invoice.PaymentApplied"]
    assert (found[0][1].effective_date, found[0][1].rule) == (date(2026, 3, 20), "manual")
    assert (outcome.result["unapplied"], outcome.result["allocation_id"]) == ("4.00", "BANK-1-A1")
    assert (outcome.result["invoice"]["open"], outcome.result["invoice"]["applied"]) == (
        "0.00", "6.00",
    )  # fmt: skip


def test_no_allocation_exceeds_what_is_unapplied_or_open_and_refusals_store_nothing(
    invoiced: Ledger,
) -> None:
    pay(invoiced, "BANK-1", "10.00", date(2026, 3, 20))
    pay(invoiced, "BANK-USD", "10.00", date(2026, 3, 20), currency="USD")
    allocate(invoiced, "BANK-1", INV2, "8.00")
    head = invoiced.head()

    refusals = [
        (lambda: allocate(invoiced, "BANK-1", INV1, "2.01"), "over-allocation"),  # 2 unapplied
        (lambda: allocate(invoiced, "BANK-1", INV2, "1.01"), "over-allocation"),  # 1 open
        (lambda: allocate(invoiced, "BANK-USD", INV1, "1"), "allocation-currency-mismatch"),
    ]
    for call, rule in refusals:
        with pytest.raises(RuleViolation) as error:
            call()
        assert error.value.rule == rule
    for bad in ("0", "-1", "1.00001"):
        with pytest.raises(InvalidInput):
            allocate(invoiced, "BANK-1", INV1, bad)
    with pytest.raises(AlreadyExists):
        pay(invoiced, "BANK-1", "10.00", date(2026, 3, 20))  # a bank reference is one payment
    assert invoiced.head() == head
    assert allocate(invoiced, "BANK-1", INV2, "1.00").result["unapplied"] == "1.00"


def test_an_allocation_is_undone_by_a_reversing_event_once(invoiced: Ledger) -> None:
    pay(invoiced, "BANK-1", "6.00", date(2026, 3, 20))
    allocate(invoiced, "BANK-1", INV1, "6.00")
    head = invoiced.head()

    outcome = invoiced.unallocate_payment(
        meta(), bank_ref="BANK-1", allocation_id="BANK-1-A1", reason="wrong customer",
        effective_date=date(2026, 3, 25),
    )  # fmt: skip

    assert names(saved_by(invoiced, outcome, head)) == [
        "Payment.Unallocated", "Invoice.PaymentReversed",
    ]  # fmt: skip
    assert (outcome.result["unapplied"], outcome.result["invoice"]["open"]) == ("6.00", "6.00")
    head = invoiced.head()
    for allocation, rule in (
        ("BANK-1-A1", "already-unallocated"),
        ("BANK-1-A9", "no-such-allocation"),
    ):
        with pytest.raises(RuleViolation) as error:
            invoiced.unallocate_payment(
                meta(), bank_ref="BANK-1", allocation_id=allocation, reason="again"
            )
        assert error.value.rule == rule
    assert invoiced.head() == head
    # The money can go where it belongs.
    assert allocate(invoiced, "BANK-1", INV2, "6.00").result["allocation_id"] == "BANK-1-A2"


def test_open_items_are_derived_as_of_any_date(runtime: Runtime, invoiced: Ledger) -> None:
    pay(invoiced, "BANK-1", "4.00", date(2026, 3, 20))
    allocate(invoiced, "BANK-1", INV1, "4.00")  # effective on the value date, 03-20
    pay(invoiced, "BANK-2", "9.00", date(2026, 4, 2))
    allocate(invoiced, "BANK-2", INV2, "9.00")  # 04-02
    invoiced.unallocate_payment(
        meta(), bank_ref="BANK-2", allocation_id="BANK-2-A1", reason="bounced",
        effective_date=date(2026, 4, 20),
    )  # fmt: skip
    settle(runtime)

    def owed(day: date) -> list[tuple[str, Decimal, str, int]]:
        with runtime.store.read() as cur:
            items = queries.open_items(cur, customer="C-1", as_of=day)
        return [(i["number"], i["open"], i["status"], i["days_past_due"]) for i in items]

    assert owed(date(2026, 2, 28)) == []  # nothing invoiced yet
    assert owed(date(2026, 3, 5)) == [(INV1, D("6.00"), "open", 0)]
    assert owed(date(2026, 3, 25)) == [
        (INV1, D("2.00"), "partially_paid", 0), (INV2, D("9.00"), "open", 0),
    ]  # fmt: skip
    assert owed(date(2026, 4, 10)) == [(INV1, D("2.00"), "overdue", 10)]  # INV2 paid 04-02
    assert owed(date(2026, 4, 20)) == [  # the bounce re-opens INV2 from 04-20
        (INV1, D("2.00"), "overdue", 20), (INV2, D("9.00"), "overdue", 11),
    ]  # fmt: skip


@pytest.mark.postgres
def test_racing_allocations_of_one_payment_never_apply_more_than_it_holds(
    pg_sales: Ledger,
) -> None:
    two_shipments(pg_sales)
    bill(pg_sales, "SH-1", invoice_date=date(2026, 3, 1))
    bill(pg_sales, "SH-2", invoice_date=date(2026, 3, 1))
    pay(pg_sales, "BANK-1", "10.00", date(2026, 3, 20))

    outcomes = race(6, lambda n: allocate(pg_sales, "BANK-1", [INV1, INV2][n % 2], "3.00"))

    applied = [o for o in outcomes if isinstance(o, Outcome)]
    assert len(applied) == 3, outcomes
    assert {getattr(o, "rule", None) for o in outcomes if not isinstance(o, Outcome)} == {
        "over-allocation"
    }
    payment = pg_sales.payment("BANK-1")
    assert payment.unapplied == D("1.00")
    invoices = [pg_sales.invoice(n) for n in (INV1, INV2)]
    assert sum((i.applied for i in invoices), D(0)) == D("9.00")
    assert all(i.open_amount >= 0 for i in invoices)
