"""PurchaseOrder: approval, receipts within tolerance, refusals named by rule, cancellation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.exceptions import RuleViolation
from domain.purchase_orders import PurchaseOrder
from tests.unit.given import (
    T0,
    D,
    approved,
    cancelled,
    goods_received,
    purchase_order,
    then,
    when,
)


def refused(order: PurchaseOrder, command: Callable[[PurchaseOrder], Any]) -> str:
    before = (order.version, order.status, dict(order.received), list(order.receipt_refs))
    with pytest.raises(RuleViolation) as error:
        command(order)
    assert order.pending_events == []
    assert (order.version, order.status, dict(order.received), list(order.receipt_refs)) == before
    return error.value.rule


def test_approving_a_draft_records_approved() -> None:
    order = purchase_order()
    events = when(order, lambda o: o.approve(T0))
    assert then(events) == [("Approved", {})]
    assert order.status == "approved"


def test_approving_twice_is_refused() -> None:
    order = purchase_order(approved())
    assert refused(order, lambda o: o.approve(T0)) == "purchase-order-status"


def test_approving_a_cancelled_order_is_refused() -> None:
    order = purchase_order(cancelled())
    assert refused(order, lambda o: o.approve(T0)) == "purchase-order-status"


def test_a_partial_receipt_leaves_the_order_partially_received() -> None:
    order = purchase_order(approved(), lines=("10", "5"))
    events = when(order, lambda o: o.receive("GRN-1", {1: D(10)}, T0))
    assert then(events) == [
        (
            "GoodsReceived",
            {"receipt_ref": "GRN-1", "quantities": {"1": D(10)}, "fully_received": False},
        )
    ]
    assert order.status == "partially_received"
    assert order.received == {"1": D(10), "2": D(0)}
    assert (order.open_quantity(1), order.open_quantity(2)) == (D(0), D(5))


def test_receiving_every_line_in_full_marks_the_order_received() -> None:
    order = purchase_order(
        approved(), goods_received("GRN-1", {"1": "4"}, False), lines=("10", "5")
    )
    events = when(order, lambda o: o.receive("GRN-2", {1: D(6), 2: D(5)}, T0))
    assert then(events)[0][1]["fully_received"] is True
    assert order.status == "received"
    assert order.receipt_refs == ["GRN-1", "GRN-2"]


def test_receiving_within_the_tolerance_is_allowed() -> None:
    order = purchase_order(approved(), tolerance="0.05")
    when(order, lambda o: o.receive("GRN-1", {1: D("10.5")}, T0))
    assert order.status == "received"
    assert order.received["1"] == D("10.5")


def test_receiving_beyond_the_tolerance_is_refused_as_over_receipt() -> None:
    order = purchase_order(approved(), tolerance="0.05")
    assert refused(order, lambda o: o.receive("GRN-1", {1: D("10.500001")}, T0)) == "over-receipt"


def test_over_receipt_counts_what_earlier_receipts_already_took() -> None:
    order = purchase_order(approved(), goods_received("GRN-1", {"1": "8"}, False))
    assert refused(order, lambda o: o.receive("GRN-2", {1: D("2.000001")}, T0)) == "over-receipt"
    when(order, lambda o: o.receive("GRN-2", {1: D(2)}, T0))
    assert order.status == "received"


def test_an_over_receipt_on_one_line_refuses_the_whole_receipt() -> None:
    order = purchase_order(approved(), lines=("10", "5"))
    rule = refused(order, lambda o: o.receive("GRN-1", {1: D(3), 2: D(6)}, T0))
    assert rule == "over-receipt"


def test_a_receipt_reference_can_only_be_recorded_once() -> None:
    order = purchase_order(approved(), goods_received("GRN-1", {"1": "4"}, False))
    assert refused(order, lambda o: o.receive("GRN-1", {1: D(1)}, T0)) == "duplicate-receipt"


def test_receiving_against_a_line_the_order_does_not_have_is_refused() -> None:
    order = purchase_order(approved())
    assert refused(order, lambda o: o.receive("GRN-1", {2: D(1)}, T0)) == "no-such-line"


@pytest.mark.parametrize(
    ("history", "status"),
    [
        ((), "draft"),
        ((approved(), cancelled()), "cancelled"),
        ((approved(), goods_received("GRN-1", {"1": "10"}, True)), "received"),
    ],
)
def test_receiving_is_refused_unless_the_order_is_approved(
    history: tuple[Any, ...], status: str
) -> None:
    order = purchase_order(*history)
    assert order.status == status
    assert refused(order, lambda o: o.receive("GRN-9", {1: D(1)}, T0)) == "purchase-order-status"


@pytest.mark.parametrize(
    ("history", "status"),
    [
        ((), "draft"),
        ((approved(),), "approved"),
        ((approved(), goods_received("GRN-1", {"1": "4"}, False)), "partially_received"),
    ],
)
def test_an_open_order_can_be_cancelled(history: tuple[Any, ...], status: str) -> None:
    order = purchase_order(*history)
    assert order.status == status
    events = when(order, lambda o: o.cancel("supplier went bust", T0))
    assert then(events) == [("Cancelled", {"reason": "supplier went bust"})]
    assert order.status == "cancelled"


@pytest.mark.parametrize(
    "history",
    [(approved(), goods_received("GRN-1", {"1": "10"}, True)), (cancelled(),)],
    ids=["received", "cancelled"],
)
def test_a_closed_order_cannot_be_cancelled(history: tuple[Any, ...]) -> None:
    order = purchase_order(*history)
    assert refused(order, lambda o: o.cancel("too late", T0)) == "purchase-order-status"


def test_the_order_keeps_its_own_copy_of_the_lines_it_was_created_with() -> None:
    lines = [{"line_no": 1, "sku": "SKU-1", "quantity": D(3), "unit_cost": D(1)}]
    order = PurchaseOrder("PO-9", "ACME", "WH1", lines, "EUR", D(0), None, None)
    lines[0]["quantity"] = D(99)
    assert order.line(1)["quantity"] == D(3)
    assert order.open_quantity(1) == D(3)
