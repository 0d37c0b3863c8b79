"""Sales orders on real SQLite and PostgreSQL: approval reserves stock atomically, cancel and
amend give it back in the same save, external references deduplicate, racing approvals never
oversell."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.application import Outcome
from domain.exceptions import AlreadyExists, NotFound, RuleViolation, StaleVersion
from domain.ledger import Ledger
from domain.stock_items import StockItem
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
    register_customer,
    saved_by,
)

D = Decimal


# -- approval --------------------------------------------------------------------------------


def test_approval_reserves_every_line_in_the_same_save_as_the_approval(sales: Ledger) -> None:
    produce(sales, "SKU-1", "20")
    produce(sales, "SKU-2", "5", ref="MO-2")
    create(sales, "SO-1", [("SKU-1", "12"), ("SKU-2", "5")])
    head = sales.head()

    outcome = approve(sales, "SO-1")

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Submitted", "SalesOrder.StageChanged", "SalesOrder.StockAllocated",
        "SalesOrder.StageChanged", "StockItem.Reserved", "StockItem.Reserved",
    ]  # fmt: skip
    assert [(e.from_stage, e.to_stage) for _, e in found if hasattr(e, "to_stage")] == [
        ("created", "approved"), ("approved", "stock_confirmed"),
    ]  # fmt: skip
    reserved = {(e.originator_id, e.order_ref, e.quantity) for _, e in found[4:]}
    assert reserved == {
        (StockItem.create_id("SKU-1", "WH1"), "SO-1", D(12)),
        (StockItem.create_id("SKU-2", "WH1"), "SO-1", D(5)),
    }
    assert (outcome.result["status"], outcome.result["stage"]) == ("approved", "stock_confirmed")
    assert outcome.result["version"] == 5
    assert outcome.result["reserved"] == {"1": "12", "2": "5"}
    assert outcome.result["short"] == {}
    assert (outcome.result["production"], outcome.result["requisitions"]) == ([], [])
    other = fresh(sales)
    try:
        order = other.sales_order("SO-1")
        assert (order.status, order.reserved, order.short) == (
            "approved", {"1": D(12), "2": D(5)}, {},
        )  # fmt: skip
        assert other.stock_item("SKU-1", "WH1").reservations == {"SO-1": D(12)}
        assert levels(other, "SKU-1") == (D(20), D(0), D(12))
        assert levels(other, "SKU-2") == (D(5), D(0), D(5))
    finally:
        other.close()


def test_a_line_short_of_stock_is_recorded_short_and_routed_with_nothing_reserved_for_it(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "5")
    produce(sales, "SKU-2", "5", ref="MO-2")
    create(sales, "SO-1", [("SKU-1", "8"), ("SKU-2", "3")])
    head = sales.head()

    outcome = approve(sales, "SO-1")

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Submitted", "SalesOrder.StageChanged", "SalesOrder.StockAllocated",
        "SalesOrder.StageChanged", "SalesOrder.ShortageRouted", "StockItem.Reserved",
        "PurchaseRequisition.Raised",
    ]  # fmt: skip
    assert (found[2][1].reserved, found[2][1].short) == ({"2": D(3)}, {"1": D(8)})
    assert (found[3][1].from_stage, found[3][1].to_stage) == ("approved", "production_scheduled")
    assert found[4][1].routes == [
        {"line_no": 1, "sku": "SKU-1", "quantity": D(8), "kind": "purchase",
         "document": "REQ-SO-1-L1-1"},
    ]  # fmt: skip
    assert (found[5][1].originator_id, found[5][1].quantity) == (
        StockItem.create_id("SKU-2", "WH1"), D(3),
    )  # fmt: skip
    requisition = found[6][1]
    assert (requisition.number, requisition.sku, requisition.quantity) == (
        "REQ-SO-1-L1-1", "SKU-1", D(8),
    )  # fmt: skip
    assert (outcome.result["status"], outcome.result["stage"]) == (
        "approved", "production_scheduled",
    )  # fmt: skip
    assert outcome.result["reserved"] == {"2": "3"}
    assert outcome.result["short"] == {"1": "8"}
    assert (outcome.result["production"], outcome.result["requisitions"]) == (
        [], ["REQ-SO-1-L1-1"],
    )  # fmt: skip
    assert levels(sales, "SKU-1") == (D(5), D(0), D(0))
    assert sales.stock_item("SKU-1", "WH1").reservations == {}
    assert levels(sales, "SKU-2") == (D(5), D(0), D(3))


def test_two_lines_of_one_sku_never_reserve_more_than_is_available(sales: Ledger) -> None:
    produce(sales, "SKU-1", "10")
    create(sales, "SO-1", [("SKU-1", "6"), ("SKU-1", "6"), ("SKU-1", "4")])

    outcome = approve(sales, "SO-1")

    assert outcome.result["reserved"] == {"1": "6", "3": "4"}
    assert outcome.result["short"] == {"2": "6"}
    item = sales.stock_item("SKU-1", "WH1")
    assert (item.locked, item.available, item.reservations) == (D(10), D(0), {"SO-1": D(10)})


def test_approving_a_sku_never_stocked_records_it_short(sales: Ledger) -> None:
    create(sales, "SO-1", [("SKU-2", "1")])

    outcome = approve(sales, "SO-1")

    assert (outcome.result["reserved"], outcome.result["short"]) == ({}, {"1": "1"})
    assert "StockItem.Reserved" not in names(stored_events(sales))


def test_stock_reserved_by_one_order_is_not_available_to_the_next(sales: Ledger) -> None:
    produce(sales, "SKU-1", "10")
    create(sales, "SO-1", [("SKU-1", "7")])
    create(sales, "SO-2", [("SKU-1", "7")])
    approve(sales, "SO-1")

    second = approve(sales, "SO-2")

    assert (second.result["reserved"], second.result["short"]) == ({}, {"1": "7"})
    assert levels(sales, "SKU-1") == (D(10), D(0), D(7))


def test_approving_twice_is_refused_and_stores_nothing(sales: Ledger) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "5")])
    approve(sales, "SO-1")
    head = sales.head()

    with pytest.raises(RuleViolation) as error:
        approve(sales, "SO-1")

    assert error.value.rule == "sales-order-status"
    assert sales.head() == head
    assert levels(sales, "SKU-1") == (D(20), D(0), D(5))


def test_the_inventory_read_model_sees_the_approvals_reservations(
    runtime: Runtime, sales: Ledger
) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "12")])
    approve(sales, "SO-1")

    settle(runtime)

    row = inventory_row(runtime, "SKU-1")
    assert (row["physical"], row["locked"], row["available"]) == (D(20), D(12), D(8))


# -- cancel and amend --------------------------------------------------------------------------


def test_cancelling_an_approved_order_releases_every_reservation_in_the_same_save(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "20")
    produce(sales, "SKU-2", "5", ref="MO-2")
    sales.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="OTHER", quantity_="3")
    create(sales, "SO-1", [("SKU-1", "12"), ("SKU-2", "5")])
    approve(sales, "SO-1")
    head = sales.head()

    outcome = sales.cancel_sales_order(meta("cancel_sales_order"), number="SO-1", reason="lost")

    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Cancelled", "SalesOrder.StageChanged", "StockItem.Released",
        "StockItem.Released",
    ]  # fmt: skip
    assert (found[1][1].from_stage, found[1][1].to_stage) == ("stock_confirmed", "cancelled")
    assert {(e.order_ref, e.quantity) for _, e in found[2:]} == {("SO-1", D(12)), ("SO-1", D(5))}
    assert (outcome.result["status"], outcome.result["stage"]) == ("cancelled", "cancelled")
    assert outcome.result["reserved"] == {}
    other = fresh(sales)
    try:
        assert other.stock_item("SKU-1", "WH1").reservations == {"OTHER": D(3)}
        assert levels(other, "SKU-1") == (D(20), D(0), D(3))
        assert levels(other, "SKU-2") == (D(5), D(0), D(0))
        assert other.sales_order("SO-1").status == "cancelled"
    finally:
        other.close()


def test_cancelling_a_created_order_touches_no_stock(sales: Ledger) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "12")])
    head = sales.head()

    outcome = sales.cancel_sales_order(meta(), number="SO-1", reason="lost")

    found = saved_by(sales, outcome, head)
    assert names(found) == ["SalesOrder.Cancelled", "SalesOrder.StageChanged"]
    assert (found[1][1].from_stage, found[1][1].to_stage) == ("created", "cancelled")
    assert levels(sales, "SKU-1") == (D(20), D(0), D(0))


def test_cancelling_a_cancelled_order_is_refused_and_stores_nothing(sales: Ledger) -> None:
    create(sales, "SO-1", [("SKU-1", "1")])
    sales.cancel_sales_order(meta(), number="SO-1", reason="lost")
    head = sales.head()

    with pytest.raises(RuleViolation) as error:
        sales.cancel_sales_order(meta(), number="SO-1", reason="again")

    assert error.value.rule == "sales-order-status"
    assert sales.head() == head


def test_amending_an_approved_orders_lines_releases_its_stock_and_reserves_the_new_lines(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "20")
    produce(sales, "SKU-2", "5", ref="MO-2")
    create(sales, "SO-1", [("SKU-1", "12"), ("SKU-2", "5")])
    approve(sales, "SO-1")
    head = sales.head()

    outcome = sales.amend_sales_order(
        meta("amend_sales_order"), number="SO-1",
        lines=[{"sku": "SKU-1", "quantity": "15", "unit_price": "2.50"}],
    )  # fmt: skip

    # One save: the old reservations go back, the order goes back to the start of its
    # workflow, is submitted again (no approval levels) and reserves the new lines.
    found = saved_by(sales, outcome, head)
    assert names(found) == [
        "SalesOrder.Amended", "SalesOrder.StageChanged", "SalesOrder.Submitted",
        "SalesOrder.StageChanged", "SalesOrder.StockAllocated", "SalesOrder.StageChanged",
        "StockItem.Released", "StockItem.Reserved", "StockItem.Released",
    ]  # fmt: skip
    assert [(e.from_stage, e.to_stage) for _, e in found if hasattr(e, "to_stage")] == [
        ("stock_confirmed", "created"), ("created", "approved"), ("approved", "stock_confirmed"),
    ]  # fmt: skip
    sku_1, sku_2 = StockItem.create_id("SKU-1", "WH1"), StockItem.create_id("SKU-2", "WH1")
    assert [(type(e).__name__, e.originator_id, e.quantity) for _, e in found[6:]] == [
        ("Released", sku_1, D(12)), ("Reserved", sku_1, D(15)), ("Released", sku_2, D(5)),
    ]  # fmt: skip
    assert (outcome.result["status"], outcome.result["stage"]) == ("approved", "stock_confirmed")
    assert (outcome.result["reserved"], outcome.result["short"]) == ({"1": "15"}, {})
    assert outcome.result["version"] == 11
    other = fresh(sales)
    try:
        assert other.stock_item("SKU-1", "WH1").reservations == {"SO-1": D(15)}
        assert levels(other, "SKU-1") == (D(20), D(0), D(15))
        assert other.stock_item("SKU-2", "WH1").reservations == {}
        assert levels(other, "SKU-2") == (D(5), D(0), D(0))
        order = other.sales_order("SO-1")
        assert (order.status, order.reserved, order.total) == ("approved", {"1": D(15)}, D("37.5"))
    finally:
        other.close()
    head = sales.head()

    with pytest.raises(RuleViolation) as again:
        approve(sales, "SO-1")

    assert again.value.rule == "sales-order-status"
    assert sales.head() == head


def test_amending_only_the_dates_of_an_approved_order_keeps_its_stage_and_stock(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "12")])
    approve(sales, "SO-1")
    head = sales.head()

    outcome = sales.amend_sales_order(
        meta("amend_sales_order"), number="SO-1", promised_date=date(2026, 12, 24)
    )

    assert names(saved_by(sales, outcome, head)) == ["SalesOrder.Amended"]
    assert (outcome.result["status"], outcome.result["stage"]) == ("approved", "stock_confirmed")
    assert outcome.result["reserved"] == {"1": "12"}
    assert sales.stock_item("SKU-1", "WH1").reservations == {"SO-1": D(12)}
    assert sales.sales_order("SO-1").promised_date == date(2026, 12, 24)


def test_a_stale_expected_version_is_refused_and_stores_nothing(sales: Ledger) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "5")])
    # Submitted, approved, allocated and stock confirmed: four events on version 1.
    assert approve(sales, "SO-1", expected_version=1).result["version"] == 5
    head = sales.head()

    with pytest.raises(StaleVersion) as cancel:
        sales.cancel_sales_order(meta(), number="SO-1", reason="x", expected_version=1)
    with pytest.raises(StaleVersion) as amend:
        sales.amend_sales_order(
            meta(), number="SO-1", expected_version=1,
            lines=[{"sku": "SKU-1", "quantity": "1", "unit_price": "1"}],
        )  # fmt: skip

    assert (cancel.value.current_version, amend.value.current_version) == (5, 5)
    assert sales.head() == head
    assert levels(sales, "SKU-1") == (D(20), D(0), D(5))


# -- external references -----------------------------------------------------------------------


def test_the_same_channel_and_external_ref_twice_returns_the_first_order(sales: Ledger) -> None:
    head = sales.head()
    first = create(sales, "SO-1", [("SKU-1", "2")], channel="crm", external_ref="CRM-77")
    # The ledger's first order also publishes the default workflow and approval policy.
    assert names(saved_by(sales, first, head)) == [
        "SalesOrder.Created",
        "ExternalReference.Claimed",
        "WorkflowDefinition.Published",
        "ApprovalPolicy.Published",
    ]
    head = sales.head()

    again = create(sales, "SO-2", [("SKU-2", "9")], channel="crm", external_ref="CRM-77")

    assert sales.head() == head
    assert again.result["number"] == "SO-1"
    assert again.result["duplicate_of_external_ref"] == "CRM-77"
    assert again.result["total"] == "5.00"
    with pytest.raises(NotFound):
        sales.sales_order("SO-2")


def test_without_an_explicit_number_a_duplicate_still_returns_the_first_order(
    sales: Ledger,
) -> None:
    first = create(sales, None, [("SKU-1", "2")], channel="crm", external_ref="CRM-78")  # type: ignore[arg-type]
    head = sales.head()

    again = create(sales, None, [("SKU-1", "2")], channel="crm", external_ref="CRM-78")  # type: ignore[arg-type]

    assert again.result["number"] == first.result["number"]
    assert sales.head() == head


def test_another_channel_with_the_same_ref_creates_a_new_order(sales: Ledger) -> None:
    create(sales, "SO-1", [("SKU-1", "2")], channel="crm", external_ref="X-1")
    head = sales.head()

    other = create(sales, "SO-2", [("SKU-1", "3")], channel="shop", external_ref="X-1")

    assert sales.head() > head
    assert other.result["number"] == "SO-2"
    assert "duplicate_of_external_ref" not in other.result
    order = sales.sales_order("SO-2")
    assert (order.channel, order.external_ref) == ("shop", "X-1")


# -- refusals ------------------------------------------------------------------------------------


def block(ledger: Ledger, code: str) -> None:
    customer = ledger.customer(code)
    customer.block("unpaid invoices")
    ledger.save_with_meta(meta("block_customer"), customer)


@pytest.mark.parametrize(
    ("overrides", "error", "rule"),
    [
        ({"customer": "C-404"}, NotFound, "not-found"),
        ({"customer": "C-BLOCKED"}, RuleViolation, "customer-not-active"),
        ({"warehouse": "WH-404"}, NotFound, "not-found"),
        ({"lines": [("SKU-1", "1"), ("SKU-404", "1")]}, NotFound, "not-found"),
    ],
)
def test_an_order_naming_what_cannot_take_it_is_refused_with_nothing_stored(
    sales: Ledger, overrides: dict[str, Any], error: type[Exception], rule: str
) -> None:
    register_customer(sales, "C-BLOCKED")
    block(sales, "C-BLOCKED")
    head = sales.head()
    overrides = dict(overrides)  # the parameters are shared by both stores
    lines = overrides.pop("lines", [("SKU-1", "1")])

    with pytest.raises(error) as raised:
        create(sales, "SO-1", lines, channel="crm", external_ref="R-1", **overrides)

    assert raised.value.rule == rule  # type: ignore[attr-defined]
    assert sales.head() == head
    # The reference was not claimed: the order can still be taken once what it names is fixed.
    retried = create(sales, "SO-1", [("SKU-1", "1")], channel="crm", external_ref="R-1")
    assert retried.result["number"] == "SO-1"


def test_a_blocked_customer_can_order_again_once_unblocked(sales: Ledger) -> None:
    block(sales, "C-1")
    with pytest.raises(RuleViolation):
        create(sales, "SO-1", [("SKU-1", "1")])
    customer = sales.customer("C-1")
    customer.unblock("paid")
    sales.save_with_meta(meta(), customer)

    assert create(sales, "SO-1", [("SKU-1", "1")]).result["status"] == "created"


def test_an_order_number_taken_twice_is_refused(sales: Ledger) -> None:
    create(sales, "SO-1", [("SKU-1", "1")])
    head = sales.head()

    with pytest.raises(AlreadyExists):
        create(sales, "SO-1", [("SKU-1", "1")])

    assert sales.head() == head


def test_an_amendment_naming_an_unknown_sku_is_refused_with_nothing_stored(
    sales: Ledger,
) -> None:
    produce(sales, "SKU-1", "20")
    create(sales, "SO-1", [("SKU-1", "5")])
    approve(sales, "SO-1")
    head = sales.head()

    with pytest.raises(NotFound):
        sales.amend_sales_order(
            meta(), number="SO-1", lines=[{"sku": "SKU-404", "quantity": "1", "unit_price": "1"}]
        )

    assert sales.head() == head
    assert sales.sales_order("SO-1").status == "approved"
    assert levels(sales, "SKU-1") == (D(20), D(0), D(5))


# -- races on PostgreSQL -----------------------------------------------------------------------


ORDERS, WANTED, AVAILABLE = 6, 10, 30


@pytest.mark.postgres
def test_orders_racing_for_the_last_units_reserve_exactly_what_is_available(
    pg_sales: Ledger,
) -> None:
    produce(pg_sales, "SKU-1", str(AVAILABLE))
    numbers = [f"SO-{n}" for n in range(ORDERS)]
    for number in numbers:
        create(pg_sales, number, [("SKU-1", str(WANTED))])

    outcomes = race(ORDERS, lambda n: approve(pg_sales, numbers[n]))

    assert all(isinstance(o, Outcome) for o in outcomes), outcomes
    reserved = [D(o.result["reserved"].get("1", "0")) for o in outcomes]
    short = [D(o.result["short"].get("1", "0")) for o in outcomes]
    assert sorted(reserved) == [D(0)] * 3 + [D(WANTED)] * 3
    assert all(r + s == WANTED for r, s in zip(reserved, short, strict=True))
    assert sum(reserved) == AVAILABLE
    # A loser is not dropped: its short line is routed to purchasing (SKU-1 is bought).
    routed = {n: f"REQ-{n}-L1-1" for n, r in zip(numbers, reserved, strict=True) if not r}
    for number, outcome in zip(numbers, outcomes, strict=True):
        wanted = [routed[number]] if number in routed else []
        stage = "production_scheduled" if number in routed else "stock_confirmed"
        assert (outcome.result["stage"], outcome.result["requisitions"]) == (stage, wanted)
        assert outcome.result["production"] == []
    other = fresh(pg_sales)
    try:
        item = other.stock_item("SKU-1", "WH1")
        assert item.locked == sum(reserved) == AVAILABLE
        assert item.available == 0
        assert item.reservations == {
            n: D(WANTED) for n, r in zip(numbers, reserved, strict=True) if r
        }
        for number, r in zip(numbers, reserved, strict=True):
            order = other.sales_order(number)
            assert order.status == "approved"
            assert order.reserved.get("1", D(0)) == r
            assert order.requisitions == ({routed[number]: 1} if number in routed else {})
    finally:
        other.close()
    events = stored_events(pg_sales)
    assert names(events).count("StockItem.Reserved") == AVAILABLE // WANTED
    assert names(events).count("SalesOrder.StockAllocated") == ORDERS
    assert names(events).count("SalesOrder.ShortageRouted") == len(routed) == 3
    raised = [e for _, e in events if type(e).__qualname__ == "PurchaseRequisition.Raised"]
    assert sorted((e.number, e.sku, e.quantity) for e in raised) == sorted(
        (document, "SKU-1", D(WANTED)) for document in routed.values()
    )
    assert "ProductionOrder.Scheduled" not in names(events)


@pytest.mark.postgres
def test_one_order_approved_by_many_threads_at_once_reserves_once(pg_sales: Ledger) -> None:
    produce(pg_sales, "SKU-1", str(AVAILABLE))
    create(pg_sales, "SO-1", [("SKU-1", str(WANTED))])

    outcomes = race(ORDERS, lambda _n: approve(pg_sales, "SO-1"))

    approved = [o for o in outcomes if isinstance(o, Outcome)]
    refused = [o for o in outcomes if not isinstance(o, Outcome)]
    assert len(approved) == 1, outcomes
    assert all(getattr(e, "rule", None) == "sales-order-status" for e in refused), refused
    other = fresh(pg_sales)
    try:
        item = other.stock_item("SKU-1", "WH1")
        assert (item.locked, item.reservations) == (D(WANTED), {"SO-1": D(WANTED)})
    finally:
        other.close()
    assert names(stored_events(pg_sales)).count("StockItem.Reserved") == 1


@pytest.mark.postgres
def test_a_cancel_racing_an_approval_leaves_no_reservation_behind(pg_sales: Ledger) -> None:
    produce(pg_sales, "SKU-1", str(AVAILABLE))
    for round_ in range(5):
        number = f"SO-R{round_}"
        create(pg_sales, number, [("SKU-1", str(WANTED))])

        def act(n: int, number: str = number) -> Outcome:
            if n == 0:
                return approve(pg_sales, number)
            return pg_sales.cancel_sales_order(meta(), number=number, reason="race")

        approval, cancel = race(2, act)

        # The cancel always wins in the end; the approval either came first (and the cancel
        # released its stock) or came second and was refused.
        assert isinstance(cancel, Outcome), cancel
        assert isinstance(approval, Outcome) or approval.rule == "sales-order-status", approval
    other = fresh(pg_sales)
    try:
        item = other.stock_item("SKU-1", "WH1")
        assert (item.locked, item.reservations) == (D(0), {})
        assert {other.sales_order(f"SO-R{n}").status for n in range(5)} == {"cancelled"}
    finally:
        other.close()


@pytest.mark.postgres
def test_a_crm_pushing_one_order_from_many_threads_at_once_gets_one_order(
    pg_sales: Ledger,
) -> None:
    outcomes = race(
        ORDERS,
        lambda n: create(pg_sales, f"SO-{n}", [("SKU-1", "1")], channel="crm", external_ref="C-9"),
    )

    assert all(isinstance(o, Outcome) for o in outcomes), outcomes
    numbers = {o.result["number"] for o in outcomes}
    assert len(numbers) == 1, numbers
    assert sum("duplicate_of_external_ref" in o.result for o in outcomes) == ORDERS - 1
    stored = names(stored_events(pg_sales))
    assert stored.count("SalesOrder.Created") == 1
    assert stored.count("ExternalReference.Claimed") == 1
