"""Shipments, delivery sign-off and late reservation of short lines on real SQLite and
PostgreSQL: stock leaves out of the order's reservation in the same save as the shipment, the
inventory read model sees it, and every refusal stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.exceptions import InvalidInput, NotFound, RuleViolation, StaleVersion
from domain.ledger import Ledger
from domain.stock_items import StockItem
from projections.queries import movements
from tests.conftest import command_meta as meta
from tests.integration.helpers import (
    inventory_row,
    levels,
    names,
    produce,
    settle,
    stored_events,
)
from tests.integration.orders import (
    approve,
    create,
    fresh,
    race,
    saved_by,
)

D = Decimal


def ship(
    ledger: Ledger, lines: dict[Any, Any], ref: str | None = "SH-1", number: str = "SO-1",
    **extra: Any,
) -> Outcome:  # fmt: skip
    return ledger.ship_sales_order(
        meta("ship_sales_order"), number=number, lines=lines, carrier="DHL",
        tracking_number=f"TRK-{ref}", shipment_ref=ref, **extra,
    )  # fmt: skip


def confirm(ledger: Ledger, ref: str, number: str = "SO-1") -> Outcome:
    return ledger.confirm_delivery(
        meta("confirm_delivery"), number=number, shipment_ref=ref, signed_by="Eve",
        proof_ref=f"POD-{ref}",
    )  # fmt: skip


def approved_order(ledger: Ledger) -> None:
    """SO-1 approved: line 1 reserves 12 of SKU-1 (20 on hand), line 2 reserves 5 of SKU-2
    (5 on hand)."""
    produce(ledger, "SKU-1", "20")
    produce(ledger, "SKU-2", "5", ref="MO-2")
    create(ledger, "SO-1", [("SKU-1", "12"), ("SKU-2", "5")])
    approve(ledger)


# -- shipping --------------------------------------------------------------------------------


def test_a_shipment_issues_its_stock_out_of_the_reservation_in_the_same_save(
    sales: Ledger,
) -> None:
    approved_order(sales)
    head = sales.head()

    outcome = ship(sales, {1: "5", 2: "5"})

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Shipped", "StockItem.IssuedForShipment", "StockItem.IssuedForShipment",
        "Receivable.Recognised",
    ]  # fmt: skip
    issued = {(e.originator_id, e.order_ref, e.quantity, e.shipment_ref) for _, e in found[1:3]}
    assert issued == {
        (StockItem.create_id("SKU-1", "WH1"), "SO-1", D(5), "SH-1"),
        (StockItem.create_id("SKU-2", "WH1"), "SO-1", D(5), "SH-1"),
    }
    assert found[0][1].meta["command"] == "ship_sales_order"
    # The customer owes for what left, from this same save: 5 + 5 at 2.50, no tax set.
    owed = found[3][1]
    assert (owed.order_number, owed.shipment_ref, owed.customer, owed.currency) == (
        "SO-1", "SH-1", "C-1", "EUR",
    )  # fmt: skip
    assert [(x["line_no"], x["quantity"], x["amount"]) for x in owed.lines] == [
        (1, D(5), D("12.50")), (2, D(5), D("12.50")),
    ]  # fmt: skip
    assert (owed.net, owed.tax, owed.total) == (D("25.00"), D("0.00"), D("25.00"))
    assert outcome.result["receivable"]["total"] == "25.00"
    assert outcome.result["status"] == "partially_shipped"
    assert outcome.result["shipped"] == {"1": "5", "2": "5"}
    assert (outcome.result["shipment_ref"], outcome.result["tracking_number"]) == (
        "SH-1", "TRK-SH-1",
    )  # fmt: skip
    other = fresh(sales)
    try:
        # physical and locked both drop by what was shipped; in transit is untouched
        assert levels(other, "SKU-1") == (D(15), D(0), D(7))
        assert levels(other, "SKU-2") == (D(0), D(0), D(0))
        assert other.stock_item("SKU-1", "WH1").reservations == {"SO-1": D(7)}
        assert other.stock_item("SKU-2", "WH1").reservations == {}
        order = other.sales_order("SO-1")
        assert (order.status, order.shipped) == ("partially_shipped", {"1": D(5), "2": D(5)})
        assert (order.shippable(1), order.shippable(2)) == (D(7), D(0))
        shipment = order.shipments["SH-1"]
        assert shipment["lines"] == {"1": D(5), "2": D(5)}
        assert (shipment["carrier"], shipment["tracking_number"]) == ("DHL", "TRK-SH-1")
        assert shipment["delivered"] is None
    finally:
        other.close()


def test_the_rest_of_the_order_ships_and_every_delivery_confirmed_makes_it_delivered(
    sales: Ledger,
) -> None:
    approved_order(sales)
    ship(sales, {1: "5"}, "SH-1")

    last = ship(sales, {1: "7", 2: "5"}, "SH-2")

    assert last.result["status"] == "shipped"
    assert levels(sales, "SKU-1") == (D(8), D(0), D(0))
    assert sales.stock_item("SKU-1", "WH1").reservations == {}
    assert confirm(sales, "SH-2").result["status"] == "shipped"
    head = sales.head()

    outcome = confirm(sales, "SH-1")

    found = saved_by(sales, outcome, head)
    assert names(found) == ["SalesOrder.DeliveryConfirmed", "SalesOrder.StageChanged"]
    assert (found[0][1].quantity, found[0][1].everything_delivered) == (D(5), True)
    assert (found[1][1].from_stage, found[1][1].to_stage) == ("shipped", "delivered")
    assert (outcome.result["status"], outcome.result["stage"]) == ("delivered", "delivered")
    other = fresh(sales)
    try:
        order = other.sales_order("SO-1")
        assert order.status == "delivered"
        assert order.shipments["SH-1"]["delivered"]["signed_by"] == "Eve"
        assert order.shipments["SH-1"]["delivered"]["proof_ref"] == "POD-SH-1"
    finally:
        other.close()


def test_two_lines_of_one_sku_shipped_together_issue_their_sum_once(sales: Ledger) -> None:
    produce(sales, "SKU-1", "10")
    create(sales, "SO-1", [("SKU-1", "6"), ("SKU-1", "4")])
    approve(sales)
    head = sales.head()

    outcome = ship(sales, {1: "6", 2: "4"})

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Shipped", "SalesOrder.StageChanged", "StockItem.IssuedForShipment",
        "Receivable.Recognised",
    ]  # fmt: skip
    assert (found[1][1].from_stage, found[1][1].to_stage) == ("stock_confirmed", "shipped")
    assert found[2][1].quantity == D(10)
    # One receivable for the shipment, billed line by line.
    assert [(x["line_no"], x["amount"]) for x in found[3][1].lines] == [
        (1, D("15.00")), (2, D("10.00")),
    ]  # fmt: skip
    assert found[3][1].total == D("25.00")
    assert (outcome.result["status"], outcome.result["stage"]) == ("shipped", "shipped")
    assert levels(sales, "SKU-1") == (D(0), D(0), D(0))
    assert sales.stock_item("SKU-1", "WH1").reservations == {}


def test_a_shipment_leaves_other_orders_reservations_of_the_sku_alone(sales: Ledger) -> None:
    produce(sales, "SKU-1", "20")
    sales.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="OTHER", quantity_="3")
    create(sales, "SO-1", [("SKU-1", "10")])
    approve(sales)

    ship(sales, {1: "4"})

    assert sales.stock_item("SKU-1", "WH1").reservations == {"OTHER": D(3), "SO-1": D(6)}
    assert levels(sales, "SKU-1") == (D(16), D(0), D(9))


# -- late reservation of short lines -----------------------------------------------------------


def test_reserving_shortages_is_refused_with_nothing_stored_until_stock_arrives(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "5")
    create(sales, "SO-1", [("SKU-1", "5"), ("SKU-2", "3")])
    assert approve(sales).result["short"] == {"2": "3"}
    produce(sales, "SKU-2", "2", ref="MO-2")  # some stock, but not enough for the line
    head = sales.head()

    with pytest.raises(RuleViolation) as error:
        sales.reserve_shortages(meta("reserve_shortages"), number="SO-1")

    assert error.value.rule == "shortage-not-covered"
    assert sales.head() == head
    assert sales.stock_item("SKU-2", "WH1").reservations == {}
    assert sales.sales_order("SO-1").short == {"2": D(3)}

    produce(sales, "SKU-2", "1", ref="MO-3")
    head = sales.head()

    outcome = sales.reserve_shortages(meta("reserve_shortages"), number="SO-1")

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.ShortageReserved", "SalesOrder.StageChanged", "StockItem.Reserved",
        "PurchaseRequisition.Closed",
    ]  # fmt: skip
    # The line's requisition is not needed any more: closed in the same save.
    assert found[3][1].reason == "line 2 of SO-1 covered from stock"
    # Every line covered: the order leaves production scheduling for stock confirmed.
    assert (found[1][1].from_stage, found[1][1].to_stage) == (
        "production_scheduled", "stock_confirmed",
    )  # fmt: skip
    assert (found[2][1].originator_id, found[2][1].order_ref, found[2][1].quantity) == (
        StockItem.create_id("SKU-2", "WH1"), "SO-1", D(3),
    )  # fmt: skip
    assert (outcome.result["reserved"], outcome.result["short"]) == ({"1": "5", "2": "3"}, {})
    assert outcome.result["stage"] == "stock_confirmed"
    assert levels(sales, "SKU-2") == (D(3), D(0), D(3))
    with pytest.raises(RuleViolation) as again:
        sales.reserve_shortages(meta(), number="SO-1")
    assert again.value.rule == "shortage-not-covered"


def test_a_reserved_shortage_ships_and_completes_a_partially_shipped_order(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "5")
    create(sales, "SO-1", [("SKU-1", "5"), ("SKU-2", "3")])
    approve(sales)
    assert ship(sales, {1: "5"}, "SH-1").result["status"] == "partially_shipped"
    produce(sales, "SKU-2", "3", ref="MO-2")

    reserved = sales.reserve_shortages(meta(), number="SO-1")
    last = ship(sales, {2: "3"}, "SH-2")

    assert reserved.result["status"] == "partially_shipped"
    assert last.result["status"] == "shipped"
    assert levels(sales, "SKU-2") == (D(0), D(0), D(0))


def test_reserving_shortages_covers_what_it_can_and_leaves_the_rest_short(
    sales: Ledger,
) -> None:
    create(sales, "SO-1", [("SKU-1", "4"), ("SKU-2", "6"), ("SKU-1", "3")])
    approve(sales)  # nothing on hand: every line short
    produce(sales, "SKU-1", "5")  # enough for line 1 (4), then not for line 3 (3)
    head = sales.head()

    outcome = sales.reserve_shortages(meta(), number="SO-1")

    found = saved_by(sales, outcome, head)
    # Line 1's requisition closes; lines 2 and 3 still wait on theirs.
    assert names(found) == [
        "SalesOrder.ShortageReserved", "StockItem.Reserved", "PurchaseRequisition.Closed",
    ]  # fmt: skip
    assert found[2][1].reason == "line 1 of SO-1 covered from stock"
    assert (outcome.result["reserved"], outcome.result["short"]) == (
        {"1": "4"}, {"2": "6", "3": "3"},
    )  # fmt: skip
    assert levels(sales, "SKU-1") == (D(5), D(0), D(4))


def test_short_lines_of_one_sku_are_covered_in_line_order_as_at_approval(sales: Ledger) -> None:
    # Lines 2 and 10 both want 5 of SKU-1; the other eight lines take SKU-2 from stock.
    lines = [("SKU-2", "1")] * 10
    lines[1] = lines[9] = ("SKU-1", "5")
    produce(sales, "SKU-2", "8")
    create(sales, "SO-1", lines)
    assert approve(sales).result["short"] == {"2": "5", "10": "5"}
    produce(sales, "SKU-1", "5", ref="MO-2")  # enough for one of the two lines

    outcome = sales.reserve_shortages(meta(), number="SO-1")

    # Approval serves lines in line order; late reservation must too: line 2 before line 10.
    assert outcome.result["short"] == {"10": "5"}
    assert outcome.result["reserved"]["2"] == "5"


# -- the read model ----------------------------------------------------------------------------


def test_the_inventory_read_model_shows_each_shipment_with_running_balances(
    runtime: Runtime, sales: Ledger
) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "12")])
    approve(sales)
    ship(sales, {1: "5"}, "SH-1")
    second = ship(sales, {1: "7"}, "SH-2")

    settle(runtime)

    with runtime.store.read() as cur:
        moves = movements(cur, "SKU-1", "WH1", after=None, limit=100)
    assert [m["kind"] for m in moves] == [
        "FinishedGoodsReceived", "Reserved", "IssuedForShipment", "IssuedForShipment",
    ]  # fmt: skip
    issues = moves[2:]
    assert [(m["document_type"], m["document_ref"], m["note"]) for m in issues] == [
        ("sales_order", "SO-1", "shipment SH-1"),
        ("sales_order", "SO-1", "shipment SH-2"),
    ]
    assert [(m["quantity"], m["d_physical"], m["d_in_transit"], m["d_locked"]) for m in issues] == [
        (D(5), D(-5), D(0), D(-5)),
        (D(7), D(-7), D(0), D(-7)),
    ]
    balances = [
        (m["physical_after"], m["in_transit_after"], m["locked_after"], m["available_after"])
        for m in moves
    ]
    assert balances == [
        (D(20), D(0), D(0), D(20)),
        (D(20), D(0), D(12), D(8)),
        (D(15), D(0), D(7), D(8)),
        (D(8), D(0), D(0), D(8)),
    ]
    shipped_by = {p: e.meta["correlation_id"] for p, e in stored_events(sales)}
    assert issues[1]["position"] == second.position - 1  # the receivable is saved last
    assert issues[1]["correlation_id"] == shipped_by[second.position]
    row = inventory_row(runtime, "SKU-1")
    assert (row["physical"], row["locked"], row["available"]) == (D(8), D(0), D(8))


# -- refusals store nothing --------------------------------------------------------------------


def refusals() -> list[Any]:
    """(name, command, error, rule) on SO-1 after `approved_order` and SH-1 of 5 on line 1."""
    return [
        ("more-than-reserved", lambda s: ship(s, {1: "8"}, "SH-2"), RuleViolation,
         "shipment-exceeds-reservation"),
        ("one-line-too-many", lambda s: ship(s, {1: "1", 2: "6"}, "SH-2"), RuleViolation,
         "shipment-exceeds-reservation"),
        ("duplicate-shipment", lambda s: ship(s, {1: "1"}, "SH-1"), RuleViolation,
         "duplicate-shipment"),
        ("no-such-line", lambda s: ship(s, {3: "1"}, "SH-2"), RuleViolation, "no-such-line"),
        ("unknown-order", lambda s: ship(s, {1: "1"}, "SH-2", number="SO-404"), NotFound,
         "not-found"),
        ("zero-quantity", lambda s: ship(s, {1: "0"}, "SH-2"), InvalidInput, "invalid-input"),
        ("float-quantity", lambda s: ship(s, {1: 1.5}, "SH-2"), InvalidInput, "invalid-input"),
        ("no-lines", lambda s: ship(s, {}, "SH-2"), InvalidInput, "invalid-input"),
        ("bad-line-number", lambda s: ship(s, {"one": "1"}, "SH-2"), InvalidInput,
         "invalid-input"),
        ("bad-shipment-ref", lambda s: ship(s, {1: "1"}, "SH 2"), InvalidInput, "invalid-input"),
        ("stale-version", lambda s: ship(s, {1: "1"}, "SH-2", expected_version=2),
         StaleVersion, "stale-version"),
        ("delivery-without-shipment", lambda s: confirm(s, "SH-404"), RuleViolation,
         "delivery-without-shipment"),
        ("cancel-after-shipment",
         lambda s: s.cancel_sales_order(meta(), number="SO-1", reason="late"), RuleViolation,
         "sales-order-status"),
        ("amend-after-shipment",
         lambda s: s.amend_sales_order(meta(), number="SO-1", promised_date=None,
                                       lines=[{"sku": "SKU-1", "quantity": "1",
                                               "unit_price": "1"}]),
         RuleViolation, "sales-order-status"),
        ("nothing-short", lambda s: s.reserve_shortages(meta(), number="SO-1"), RuleViolation,
         "shortage-not-covered"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "error", "rule"),
    [pytest.param(*r[1:], id=r[0]) for r in refusals()],
)
def test_a_refused_shipping_command_stores_nothing(
    sales: Ledger, command: Callable[[Ledger], Any], error: type[Exception], rule: str
) -> None:
    approved_order(sales)
    ship(sales, {1: "5"}, "SH-1")
    head = sales.head()

    with pytest.raises(error) as raised:
        command(sales)

    assert raised.value.rule == rule  # type: ignore[attr-defined]
    assert sales.head() == head
    other = fresh(sales)
    try:
        for app in (sales, other):  # nothing half-decided lingers in the first app's caches
            order = app.sales_order("SO-1")
            assert (order.status, order.shipped, list(order.shipments)) == (
                "partially_shipped", {"1": D(5)}, ["SH-1"],
            )  # fmt: skip
            assert levels(app, "SKU-1") == (D(15), D(0), D(7))
            assert levels(app, "SKU-2") == (D(5), D(0), D(5))
    finally:
        other.close()
    # and the order still ships what it has left
    assert ship(sales, {1: "7", 2: "5"}, "SH-9").result["status"] == "shipped"


def test_confirming_a_delivery_twice_is_refused_and_stores_nothing(sales: Ledger) -> None:
    approved_order(sales)
    ship(sales, {1: "5"}, "SH-1")
    confirm(sales, "SH-1")
    head = sales.head()

    with pytest.raises(RuleViolation) as error:
        confirm(sales, "SH-1")

    assert error.value.rule == "delivery-already-confirmed"
    assert sales.head() == head


def test_a_shipment_the_stock_item_cannot_cover_stores_neither_the_shipment_nor_the_issue(
    sales: Ledger,
) -> None:
    approved_order(sales)
    # The stock item's reservation for SO-1 shrinks behind the order's back.
    sales.release(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="10")
    head = sales.head()

    with pytest.raises(RuleViolation) as error:
        ship(sales, {1: "5"})

    assert error.value.rule == "issue-exceeds-reservation"
    assert sales.head() == head
    other = fresh(sales)
    try:
        order = other.sales_order("SO-1")
        assert (order.status, order.shipped, order.shipments) == ("approved", {}, {})
        assert levels(other, "SKU-1") == (D(20), D(0), D(2))
    finally:
        other.close()


# -- races on PostgreSQL -----------------------------------------------------------------------


@pytest.mark.postgres
def test_shipments_racing_for_one_reservation_never_ship_more_than_is_reserved(
    pg_sales: Ledger,
) -> None:
    produce(pg_sales, "SKU-1", "30")
    create(pg_sales, "SO-1", [("SKU-1", "10")])
    approve(pg_sales)

    outcomes = race(4, lambda n: ship(pg_sales, {1: "4"}, f"SH-{n}"))

    shipped = [o for o in outcomes if isinstance(o, Outcome)]
    refused = [o for o in outcomes if not isinstance(o, Outcome)]
    assert len(shipped) == 2, outcomes
    assert {getattr(e, "rule", None) for e in refused} == {"shipment-exceeds-reservation"}
    other = fresh(pg_sales)
    try:
        order = other.sales_order("SO-1")
        assert (order.status, order.shipped, len(order.shipments)) == (
            "partially_shipped", {"1": D(8)}, 2,
        )  # fmt: skip
        assert levels(other, "SKU-1") == (D(22), D(0), D(2))
        assert other.stock_item("SKU-1", "WH1").reservations == {"SO-1": D(2)}
    finally:
        other.close()
    assert names(stored_events(pg_sales)).count("StockItem.IssuedForShipment") == 2
