"""Receivables from shipments, on real SQLite and PostgreSQL: each shipment is money owed in
its own save — priced line by line, taxed at the configured rate, never twice, never for
goods that did not leave."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from api.runtime import Runtime
from domain.application import IdempotencyClaim, Outcome
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.ledger import Ledger
from domain.receivables import Receivable, receivable_id
from projections import queries
from tests.conftest import command_meta as meta
from tests.integration.helpers import names, produce, settle, stored_events
from tests.integration.orders import approve, fresh, race, register_customer, saved_by

D = Decimal


def order(ledger: Ledger, lines: list[tuple[str, str, str, str]], currency: str = "EUR") -> None:
    """SO-1 with (sku, quantity, unit price, discount) lines, approved."""
    ledger.create_sales_order(
        meta("create_sales_order"), customer="C-1", warehouse="WH1", currency_code=currency,
        salesperson="ann", number="SO-1",
        lines=[{"sku": s, "quantity": q, "unit_price": p, "discount": d} for s, q, p, d in lines],
    )  # fmt: skip
    approve(ledger)


def ship(ledger: Ledger, lines: dict[int, str], ref: str, **extra: object) -> Outcome:
    return ledger.ship_sales_order(
        meta("ship_sales_order"), number="SO-1", lines=lines, carrier="DHL",
        tracking_number=f"T-{ref}", shipment_ref=ref, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def receivable(ledger: Ledger, ref: str) -> Receivable:
    return ledger.load(Receivable, receivable_id("SO-1", ref), "receivable")


def test_each_shipment_is_owed_line_by_line_net_of_discount_in_its_own_save(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "20")
    produce(sales, "SKU-2", "20", ref="MO-2")
    order(sales, [("SKU-1", "10", "19.99", "0.1"), ("SKU-2", "3", "0.05", "0.1")])
    head = sales.head()

    first = ship(sales, {1: "3", 2: "3"}, "SH-1")
    assert names(saved_by(sales, first, head))[-1] == "Receivable.Recognised"
    second = ship(sales, {1: "7"}, "SH-2")

    one, two = receivable(sales, "SH-1"), receivable(sales, "SH-2")
    # 3 × 19.99 × 0.9 = 53.973 → 53.97; 3 × 0.05 × 0.9 = 0.135 → 0.14 (half-up, per line)
    assert [(x["line_no"], x["amount"]) for x in one.lines] == [(1, D("53.97")), (2, D("0.14"))]
    assert (one.net, one.total, one.status) == (D("54.11"), D("54.11"), "pending_invoice")
    # 7 × 19.99 × 0.9 = 125.937 → 125.94
    assert (two.net, two.customer, two.shipment_ref) == (D("125.94"), "C-1", "SH-2")
    assert second.result["receivable"] == {
        "id": str(receivable_id("SO-1", "SH-2")), "net": "125.94", "tax": "0.00",
        "total": "125.94", "currency": "EUR",
    }  # fmt: skip


def test_tax_is_added_at_the_configured_rate_rounded_half_up(sales: Ledger) -> None:
    taxed = Ledger(sales.env, tax_rate=D("0.19"))
    try:
        produce(taxed, "SKU-1", "20")
        order(taxed, [("SKU-1", "10", "10.05", "0")])

        ship(taxed, {1: "1"}, "SH-1")

        owed = receivable(taxed, "SH-1")
        # 10.05 × 0.19 = 1.9095 → 1.91
        assert (owed.net, owed.tax_rate, owed.tax, owed.total) == (
            D("10.05"), D("0.19"), D("1.91"), D("11.96"),
        )  # fmt: skip
    finally:
        taxed.close()


def test_a_currency_without_minor_units_is_billed_in_whole_units(sales: Ledger) -> None:
    produce(sales, "SKU-1", "5")
    order(sales, [("SKU-1", "3", "105", "0.05")], currency="JPY")

    ship(sales, {1: "3"}, "SH-1")

    owed = receivable(sales, "SH-1")
    assert (owed.currency, owed.net) == ("JPY", D("299"))  # 299.25 → 299


def test_a_refused_or_retried_shipment_owes_nothing_more(sales: Ledger) -> None:
    produce(sales, "SKU-1", "5")
    order(sales, [("SKU-1", "5", "2.00", "0")])
    key = IdempotencyClaim("ship-once", "hash-1")
    ship(sales, {1: "2"}, "SH-1", idempotency=key)
    head = sales.head()

    again = ship(sales, {1: "2"}, "SH-1", idempotency=key)
    with pytest.raises(RuleViolation):
        ship(sales, {1: "4"}, "SH-2")  # only 3 left reserved

    assert again.replayed
    assert sales.head() == head
    recognised = [e for _, e in stored_events(sales) if type(e).__name__ == "Recognised"]
    assert [(e.shipment_ref, e.total) for e in recognised] == [("SH-1", D("4.00"))]


def test_the_receivables_read_model_shows_each_shipment_at_once(
    runtime: Runtime, sales: Ledger
) -> None:
    produce(sales, "SKU-1", "10")
    order(sales, [("SKU-1", "10", "1.50", "0")])
    ship(sales, {1: "4"}, "SH-1")
    ship(sales, {1: "6"}, "SH-2")
    settle(runtime)

    with runtime.store.read() as cur:
        rows = queries.list_receivables(
            cur, customer="C-1", order_number=None, status=None, after=None, limit=10
        )
        other = queries.list_receivables(
            cur, customer="C-2", order_number=None, status=None, after=None, limit=10
        )
    assert [(r["shipment_ref"], r["total"], r["status"]) for r in rows] == [
        ("SH-1", D("6.00"), "pending_invoice"), ("SH-2", D("9.00"), "pending_invoice"),
    ]  # fmt: skip
    assert other == []
    runtime.runner.rebuild("receivables")
    with runtime.store.read() as cur:
        rebuilt = queries.list_receivables(
            cur, customer="C-1", order_number=None, status=None, after=None, limit=10
        )
    assert rebuilt == rows


@pytest.mark.postgres
def test_racing_shipments_owe_exactly_what_left(pg_sales: Ledger) -> None:
    produce(pg_sales, "SKU-1", "30")
    order(pg_sales, [("SKU-1", "10", "3.00", "0")])

    outcomes = race(4, lambda n: ship(pg_sales, {1: "4"}, f"SH-{n}"))

    shipped = [o for o in outcomes if isinstance(o, Outcome)]
    assert len(shipped) == 2, outcomes
    other = fresh(pg_sales)
    try:
        refs = sorted(other.sales_order("SO-1").shipments)
        owed = [other.load(Receivable, receivable_id("SO-1", r), "receivable") for r in refs]
        assert [o.total for o in owed] == [D("12.00"), D("12.00")]
    finally:
        other.close()
    recognised = [e for _, e in stored_events(pg_sales) if type(e).__name__ == "Recognised"]
    assert len(recognised) == 2


# -- invoices --------------------------------------------------------------------------------


def two_shipments(ledger: Ledger) -> None:
    """SO-1 (10 × SKU-1 at 1.50) shipped as SH-1 (4) and SH-2 (6)."""
    produce(ledger, "SKU-1", "10")
    order(ledger, [("SKU-1", "10", "1.50", "0")])
    ship(ledger, {1: "4"}, "SH-1")
    ship(ledger, {1: "6"}, "SH-2")


def bill(ledger: Ledger, *refs: str, customer: str = "C-1", **extra: object) -> Outcome:
    return ledger.issue_invoice(
        meta("issue_invoice"), customer=customer,
        shipments=[{"order_number": "SO-1", "shipment_ref": ref} for ref in refs],
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_an_invoice_bills_several_shipments_under_the_next_number_due_by_the_terms(
    sales: Ledger,
) -> None:
    two_shipments(sales)
    head = sales.head()

    outcome = bill(sales, "SH-1", "SH-2", invoice_date=date(2026, 3, 31))

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "InvoiceSeries.Opened", "InvoiceSeries.NumberTaken", "Invoice.Issued",
        "Receivable.Invoiced", "Receivable.Invoiced",
    ]  # fmt: skip
    # C-1 pays at 30 days: due 30 days after the invoice date.
    assert outcome.result == {
        "number": "INV-2026-000001", "customer": "C-1", "currency": "EUR", "net": "15.00",
        "tax": "0.00", "total": "15.00", "invoice_date": "2026-03-31",
        "due_date": "2026-04-30", "applied": "0", "credited": "0", "written_off": "0",
        "open": "15.00", "credit_notes": [], "write_offs": [], "version": 1,
        "shipments": [{"order_number": "SO-1", "shipment_ref": "SH-1"},
                      {"order_number": "SO-1", "shipment_ref": "SH-2"}],
    }  # fmt: skip
    owed = receivable(sales, "SH-2")
    assert (owed.status, owed.invoice_number, owed.due_date) == (
        "invoiced", "INV-2026-000001", date(2026, 4, 30),
    )  # fmt: skip


def test_numbers_follow_on_without_gaps_and_a_refused_invoice_takes_none(sales: Ledger) -> None:
    two_shipments(sales)
    first = bill(sales, "SH-1", invoice_date=date(2026, 1, 5))
    head = sales.head()

    for refs in (("SH-1",), ("SH-404",), ("SH-2", "SH-1")):  # billed, unknown, half billed
        with pytest.raises((RuleViolation, NotFound)):
            bill(sales, *refs, invoice_date=date(2026, 1, 6))
    with pytest.raises(RuleViolation) as earlier:  # numbers and dates rise together
        bill(sales, "SH-2", invoice_date=date(2026, 1, 4))
    assert earlier.value.rule == "invoice-date-before-last"
    assert sales.head() == head
    second = bill(sales, "SH-2", invoice_date=date(2026, 1, 6))

    assert (first.result["number"], second.result["number"]) == (
        "INV-2026-000001", "INV-2026-000002",
    )  # fmt: skip


def test_a_shipment_is_billed_once_and_only_on_its_customers_invoice(sales: Ledger) -> None:
    two_shipments(sales)
    register_customer(sales, "C-2")
    bill(sales, "SH-1")
    head = sales.head()

    with pytest.raises(RuleViolation) as twice:
        bill(sales, "SH-1")
    with pytest.raises(RuleViolation) as stranger:
        bill(sales, "SH-2", customer="C-2")
    with pytest.raises(InvalidInput):
        bill(sales, "SH-2", "SH-2")
    with pytest.raises(InvalidInput):
        bill(sales)

    assert (twice.value.rule, stranger.value.rule) == (
        "already-invoiced", "invoice-customer-mismatch",
    )  # fmt: skip
    assert sales.head() == head


def test_the_read_models_show_invoices_and_what_each_receivable_was_billed_on(
    runtime: Runtime, sales: Ledger
) -> None:
    two_shipments(sales)
    bill(sales, "SH-1", invoice_date=date(2026, 5, 2))
    settle(runtime)

    with runtime.store.read() as cur:
        rows = queries.list_receivables(
            cur, customer="C-1", order_number="SO-1", status=None, after=None, limit=10
        )
        invoices = queries.list_invoices(cur, customer="C-1", after=None, limit=10)
    assert [(r["shipment_ref"], r["status"], r["invoice_number"], r["due_date"]) for r in rows] == [
        ("SH-1", "invoiced", "INV-2026-000001", "2026-06-01"),
        ("SH-2", "pending_invoice", None, None),
    ]  # fmt: skip
    assert [(i["number"], i["total"], i["shipments"], i["due_date"]) for i in invoices] == [
        ("INV-2026-000001", D("6.00"), 1, "2026-06-01"),
    ]  # fmt: skip


@pytest.mark.postgres
def test_invoices_issued_at_once_never_share_a_number(pg_sales: Ledger) -> None:
    produce(pg_sales, "SKU-1", "30")
    order(pg_sales, [("SKU-1", "8", "1.00", "0")])
    for n in range(8):
        ship(pg_sales, {1: "1"}, f"SH-{n}")

    outcomes = race(8, lambda n: bill(pg_sales, f"SH-{n}", invoice_date=date(2026, 7, 1)))

    assert all(isinstance(o, Outcome) for o in outcomes), outcomes
    numbers = sorted(o.result["number"] for o in outcomes)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 9)]
