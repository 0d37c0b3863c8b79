"""The customer statement on real SQLite and PostgreSQL: opening balance, every document of
the period in date order with a running balance, and a closing balance that is the open-items
total on the last day — for any period."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.ledger import Ledger
from projections import queries
from projections.customer_statements import customer_statement
from tests.integration.credits import approve, ask_write_off, correct, meta
from tests.integration.helpers import settle
from tests.integration.test_payments import INV1, INV2, allocate, invoiced, pay

__all__ = ["invoiced"]

D = Decimal


@pytest.fixture
def history(runtime: Runtime, invoiced: Ledger) -> Runtime:
    """C-1's spring: INV1 6.00 (03-01) and INV2 9.00 (03-10), then payments, credit notes,
    a write-off and reversals dated out of the order they were recorded in."""
    pay(invoiced, "BANK-1", "10.00", date(2026, 3, 20))
    allocate(invoiced, "BANK-1", INV1, "4.00")  # 03-20
    correct(invoiced, "2.00", date(2026, 3, 15), invoice=INV2)  # CN-2026-000001
    approve(invoiced, ask_write_off(invoiced, "2.00"), date(2026, 4, 5))
    ask_write_off(invoiced, "1.00", invoice=INV2)  # pending: on no statement
    pay(invoiced, "BANK-2", "3.00", date(2026, 2, 25))  # paid before INV2 was issued
    allocate(invoiced, "BANK-2", INV2, "3.00")
    correct(invoiced, "1.00", date(2026, 3, 25), invoice=INV2)  # CN-2026-000002
    invoiced.cancel_credit_note(
        meta(), number="CN-2026-000002", reason="wrong invoice", effective_date=date(2026, 4, 10)
    )
    invoiced.unallocate_payment(
        meta(), bank_ref="BANK-1", allocation_id="BANK-1-A1", reason="bounced",
        effective_date=date(2026, 4, 12),
    )  # fmt: skip
    pay(invoiced, "BANK-3", "50.00", date(2026, 3, 1))  # nobody's yet: on no statement
    settle(runtime)
    return runtime


def statement(runtime: Runtime, start: date, end: date, currency: str = "EUR") -> dict[str, Any]:
    with runtime.store.read() as cur:
        return customer_statement(cur, customer="C-1", currency=currency, start=start, end=end)


def open_total(runtime: Runtime, day: date) -> Decimal:
    with runtime.store.read() as cur:
        return sum((i["open"] for i in queries.open_items(cur, customer="C-1", as_of=day)), D(0))


def test_the_statement_lists_each_document_of_the_period_with_a_running_balance(
    history: Runtime,
) -> None:
    found = statement(history, date(2026, 3, 12), date(2026, 4, 30))

    assert found["opening_balance"] == D("12.00")  # INV1 6 + INV2 9 − 3 paid in advance
    assert [(x["date"], x["kind"], x["reference"], x["amount"], x["balance"])
            for x in found["lines"]] == [
        ("2026-03-15", "credit_note", "CN-2026-000001", D("-2.00"), D("10.00")),
        ("2026-03-20", "payment", "BANK-1-A1", D("-4.00"), D("6.00")),
        ("2026-03-25", "credit_note", "CN-2026-000002", D("-1.00"), D("5.00")),
        ("2026-04-05", "write_off", f"{INV1}-W1", D("-2.00"), D("3.00")),
        ("2026-04-10", "credit_note_cancelled", "CN-2026-000002", D("1.00"), D("4.00")),
        ("2026-04-12", "payment_reversal", "BANK-1-A1", D("4.00"), D("8.00")),
    ]  # fmt: skip
    assert found["lines"][1]["bank_ref"] == "BANK-1"
    # Open items see each credit from its own date, and each reversal from its own.
    assert [open_total(history, date(2026, 3, d)) for d in (14, 15, 24, 25)] == [
        D("12.00"), D("10.00"), D("6.00"), D("5.00"),
    ]  # fmt: skip
    assert [open_total(history, date(2026, 4, d)) for d in (4, 5, 9, 10, 11, 12)] == [
        D("5.00"), D("3.00"), D("3.00"), D("4.00"), D("4.00"), D("8.00"),
    ]  # fmt: skip
    assert found["closing_balance"] == D("8.00") == open_total(history, date(2026, 4, 30))
    # BANK-1 is C-1's (it was allocated to C-1's invoice) and wholly unapplied again;
    # BANK-2 is spent; BANK-3 was never allocated: nobody's yet.
    assert found["unapplied_cash"] == D("10.00")
    assert [(p["bank_ref"], p["unapplied"]) for p in found["unapplied_payments"]] == [
        ("BANK-1", D("10.00")),
    ]


def test_a_payment_made_before_its_invoice_counts_from_the_invoice_date(
    history: Runtime,
) -> None:
    found = statement(history, date(2026, 3, 1), date(2026, 3, 10))

    assert found["opening_balance"] == D(0)
    assert [(x["date"], x["kind"], x["reference"], x["amount"], x["balance"])
            for x in found["lines"]] == [
        ("2026-03-01", "invoice", INV1, D("6.00"), D("6.00")),
        ("2026-03-10", "invoice", INV2, D("9.00"), D("15.00")),
        ("2026-03-10", "payment", "BANK-2-A1", D("-3.00"), D("12.00")),
    ]  # fmt: skip
    assert found["lines"][0]["due_date"] == "2026-03-31"
    assert found["closing_balance"] == open_total(history, date(2026, 3, 10))
    # As of 03-10 BANK-1 had not arrived; BANK-2 was spent.
    assert (found["unapplied_cash"], found["unapplied_payments"]) == (D(0), [])


def test_opening_and_closing_balances_are_the_open_items_totals_for_every_period(
    history: Runtime,
) -> None:
    days = [date(2026, 2, 20) + timedelta(days=n) for n in range(0, 70, 3)]
    for start in days:
        for end in (d for d in days if d >= start):
            found = statement(history, start, end)
            assert found["opening_balance"] == open_total(history, start - timedelta(days=1))
            assert found["closing_balance"] == open_total(history, end), (start, end)
            running = found["opening_balance"] + sum((x["amount"] for x in found["lines"]), D(0))
            assert running == found["closing_balance"]


def test_a_statement_in_another_currency_is_empty(history: Runtime) -> None:
    found = statement(history, date(2026, 1, 1), date(2026, 12, 31), currency="USD")

    assert (found["opening_balance"], found["lines"], found["closing_balance"]) == (D(0), [], D(0))
    assert found["unapplied_cash"] == D(0)
