"""Receivables from shipments, on real SQLite and PostgreSQL: each shipment is money owed in
its own save — priced line by line, taxed at the configured rate, never twice, never for
goods that did not leave."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.runtime import Runtime
from domain.application import IdempotencyClaim, Outcome
from domain.exceptions import RuleViolation
from domain.ledger import Ledger
from domain.receivables import Receivable, receivable_id
from projections import queries
from tests.conftest import command_meta as meta
from tests.integration.helpers import names, produce, settle, stored_events
from tests.integration.orders import approve, fresh, race, saved_by

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
