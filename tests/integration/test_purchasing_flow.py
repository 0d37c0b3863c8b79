"""Purchase orders end to end on a real event store: approval, receipts, cancellation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.exceptions import RuleViolation
from domain.ledger import Ledger
from domain.purchase_orders import PurchaseOrder
from domain.stock_items import StockItem
from tests.conftest import command_meta as meta
from tests.integration.helpers import create_po, levels, names, stored_events

D = Decimal


def test_approving_a_purchase_order_puts_every_line_in_transit_in_the_same_save(
    ledger: Ledger,
) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10"), ("SKU-2", "4")])
    before = ledger.head()
    approve = meta("approve_purchase_order")
    outcome = ledger.approve_purchase_order(approve, number="PO-1")

    written = stored_events(ledger, start=before + 1)
    assert [position for position, _ in written] == list(range(before + 1, outcome.position + 1))
    assert names(written) == [
        "PurchaseOrder.Approved",
        "StockItem.Opened", "StockItem.InboundExpected",
        "StockItem.Opened", "StockItem.InboundExpected",
    ]  # fmt: skip
    assert {e.meta["correlation_id"] for _, e in written} == {approve.correlation_id}
    assert {e.originator_id for _, e in written if isinstance(e, StockItem.InboundExpected)} == {
        StockItem.create_id("SKU-1", "WH1"),
        StockItem.create_id("SKU-2", "WH1"),
    }
    assert outcome.result == {"number": "PO-1", "status": "approved", "version": 2}
    assert levels(ledger, "SKU-1") == (D(0), D(10), D(0))
    assert levels(ledger, "SKU-2") == (D(0), D(4), D(0))


def test_a_partial_then_full_receipt_moves_stock_from_transit_to_physical(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10"), ("SKU-2", "4")])
    ledger.approve_purchase_order(meta(), number="PO-1")

    first = ledger.receive_purchase_order(
        meta(), number="PO-1", lines={1: "6"}, receipt_ref="GRN-1"
    )
    assert first.result["status"] == "partially_received"
    assert levels(ledger, "SKU-1") == (D(6), D(4), D(0))
    assert levels(ledger, "SKU-2") == (D(0), D(4), D(0))

    second = ledger.receive_purchase_order(
        meta(), number="PO-1", lines={1: "4", 2: "4"}, receipt_ref="GRN-2"
    )
    assert second.result["status"] == "received"
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(0))
    assert levels(ledger, "SKU-2") == (D(4), D(0), D(0))
    order = ledger.purchase_order("PO-1")
    assert order.received == {"1": D(10), "2": D(4)}
    received = [e for _, e in stored_events(ledger) if isinstance(e, StockItem.Received)]
    assert [(e.quantity, e.from_in_transit) for e in received] == [
        (D(6), D(6)), (D(4), D(4)), (D(4), D(4)),
    ]  # fmt: skip


def test_a_receipt_within_the_configured_tolerance_lands_more_than_was_in_transit(
    ledger: Ledger,
) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "100")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    outcome = ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "105"})
    assert outcome.result["status"] == "received"
    assert levels(ledger, "SKU-1") == (D(105), D(0), D(0))


def test_an_over_receipt_is_refused_and_stores_nothing(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "100")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "105.000001"})
    assert error.value.rule == "over-receipt"
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(0), D(100), D(0))


def test_a_receipt_reference_is_refused_the_second_time(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "2"}, receipt_ref="GRN-7")
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "2"}, receipt_ref="GRN-7")
    assert error.value.rule == "duplicate-receipt"
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(2), D(8), D(0))


def test_cancelling_the_rest_of_a_partly_received_order_withdraws_its_in_transit(
    ledger: Ledger,
) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10"), ("SKU-2", "4")])
    create_po(ledger, "PO-2", [("SKU-1", "7")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.approve_purchase_order(meta(), number="PO-2")
    ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "6", 2: "4"})
    before = ledger.head()

    outcome = ledger.cancel_purchase_order(meta(), number="PO-1", reason="supplier short")

    assert outcome.result["status"] == "cancelled"
    written = stored_events(ledger, start=before + 1)
    assert names(written) == ["PurchaseOrder.Cancelled", "StockItem.InboundCancelled"]
    assert written[1][1].quantity == D(4)
    assert levels(ledger, "SKU-1") == (D(6), D(7), D(0))  # PO-2 is still on its way
    assert levels(ledger, "SKU-2") == (D(4), D(0), D(0))


def test_cancelling_a_draft_touches_no_stock_item(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10")])
    before = ledger.head()
    ledger.cancel_purchase_order(meta(), number="PO-1", reason="typo")
    assert names(stored_events(ledger, start=before + 1)) == ["PurchaseOrder.Cancelled"]
    assert StockItem.create_id("SKU-1", "WH1") not in ledger.repository


def test_a_received_order_cannot_be_cancelled(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10")])
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.receive_purchase_order(meta(), number="PO-1", lines={1: "10"})
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.cancel_purchase_order(meta(), number="PO-1", reason="too late")
    assert error.value.rule == "purchase-order-status"
    assert ledger.head() == head


def test_a_purchase_order_reloaded_from_the_store_has_the_same_state(ledger: Ledger) -> None:
    create_po(ledger, "PO-1", [("SKU-1", "10"), ("SKU-2", "4")], receipt_tolerance="0.1")
    ledger.approve_purchase_order(meta(), number="PO-1")
    ledger.receive_purchase_order(meta(), number="PO-1", lines={2: "4.4"}, receipt_ref="GRN-1")
    fresh = type(ledger)(ledger.env)
    order = fresh.repository.get(PurchaseOrder.create_id("PO-1"))
    assert (order.status, order.receipt_tolerance) == ("partially_received", D("0.1"))
    assert order.received == {"1": D(0), "2": D("4.4")}
    assert order.receipt_refs == ["GRN-1"]
    assert [line["quantity"] for line in order.lines] == [D(10), D(4)]
