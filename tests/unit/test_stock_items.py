"""StockItem: given events → when command → then events, or a named rule refusing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.exceptions import RuleViolation
from domain.stock_items import StockItem
from tests.unit.given import (
    T0,
    D,
    inbound,
    produced,
    reserved,
    state,
    stock_item,
    then,
    transfer_inbound,
    when,
)


def refused(item: StockItem, command: Callable[[StockItem], Any]) -> str:
    """Run a command that must be refused; check nothing changed; return the rule."""
    before = state(item)
    with pytest.raises(RuleViolation) as error:
        command(item)
    assert item.pending_events == []
    assert state(item) == before
    return error.value.rule


# -- reservations ------------------------------------------------------------------------


def test_reserving_within_available_locks_the_quantity() -> None:
    item = stock_item(produced("10"))
    events = when(item, lambda i: i.reserve("SO-1", D("4"), T0))
    assert then(events) == [("Reserved", {"order_ref": "SO-1", "quantity": D("4")})]
    assert (item.physical, item.locked, item.available) == (D(10), D(4), D(6))
    assert item.reservations == {"SO-1": D(4)}


def test_reserving_exactly_what_is_available_is_allowed() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    when(item, lambda i: i.reserve("SO-2", D("6"), T0))
    assert item.available == 0
    assert item.locked == 10


def test_reserving_more_than_available_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    rule = refused(item, lambda i: i.reserve("SO-2", D("6.000001"), T0))
    assert rule == "reservation-exceeds-available"


def test_stock_in_transit_cannot_be_reserved() -> None:
    item = stock_item(inbound("PO-1", "50"))
    assert refused(item, lambda i: i.reserve("SO-1", D(1), T0)) == "reservation-exceeds-available"


def test_reserving_twice_for_one_order_adds_up() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    when(item, lambda i: i.reserve("SO-1", D("1.5"), T0))
    assert item.reservations == {"SO-1": D("5.5")}


def test_releasing_part_of_a_reservation_unlocks_that_part() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    events = when(item, lambda i: i.release("SO-1", D(1), T0))
    assert then(events) == [("Released", {"order_ref": "SO-1", "quantity": D(1)})]
    assert (item.locked, item.available, item.reservations) == (D(3), D(7), {"SO-1": D(3)})


def test_releasing_without_a_quantity_releases_the_whole_reservation() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"), reserved("SO-2", "2"))
    returned: list[Any] = []
    events = when(item, lambda i: returned.append(i.release("SO-1", None, T0)))
    assert returned == [D(4)]
    assert then(events) == [("Released", {"order_ref": "SO-1", "quantity": D(4)})]
    assert item.reservations == {"SO-2": D(2)}
    assert item.locked == 2


def test_releasing_more_than_is_reserved_for_the_order_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"), reserved("SO-2", "5"))
    assert refused(item, lambda i: i.release("SO-1", D(5), T0)) == "release-exceeds-reservation"


def test_releasing_an_order_that_holds_nothing_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    assert refused(item, lambda i: i.release("SO-9", None, T0)) == "release-exceeds-reservation"


# -- shipment --------------------------------------------------------------------------


def test_issuing_for_shipment_takes_stock_out_of_the_reservation() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    events = when(item, lambda i: i.issue_for_shipment("SO-1", D(3), "SH-1", T0))
    assert then(events) == [
        ("IssuedForShipment", {"order_ref": "SO-1", "quantity": D(3), "shipment_ref": "SH-1"})
    ]
    assert (item.physical, item.locked, item.available) == (D(7), D(1), D(6))
    assert item.reservations == {"SO-1": D(1)}


def test_issuing_the_whole_reservation_clears_it() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    when(item, lambda i: i.issue_for_shipment("SO-1", D(4), "SH-1", T0))
    assert item.reservations == {}
    assert (item.physical, item.locked) == (D(6), D(0))


def test_issuing_more_than_the_order_has_reserved_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    rule = refused(item, lambda i: i.issue_for_shipment("SO-1", D(5), "SH-1", T0))
    assert rule == "issue-exceeds-reservation"


def test_issuing_for_an_order_without_a_reservation_is_refused() -> None:
    item = stock_item(produced("10"))
    rule = refused(item, lambda i: i.issue_for_shipment("SO-1", D(1), "SH-1", T0))
    assert rule == "issue-exceeds-reservation"


# -- production --------------------------------------------------------------------------


def test_issuing_material_takes_unreserved_stock_out() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    events = when(item, lambda i: i.issue_material("MO-7", D(6), T0))
    assert then(events) == [("MaterialIssued", {"production_ref": "MO-7", "quantity": D(6)})]
    assert (item.physical, item.locked, item.available) == (D(4), D(4), D(0))


def test_issuing_material_cannot_consume_reserved_stock() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    rule = refused(item, lambda i: i.issue_material("MO-7", D(7), T0))
    assert rule == "material-issue-exceeds-available"


def test_receiving_finished_goods_adds_physical_stock() -> None:
    item = stock_item(produced("10"))
    events = when(item, lambda i: i.receive_finished_goods("MO-2", D("2.5"), T0))
    assert then(events) == [
        ("FinishedGoodsReceived", {"production_ref": "MO-2", "quantity": D("2.5")})
    ]
    assert item.physical == D("12.5")


# -- counts ----------------------------------------------------------------------------


def test_a_count_above_book_stock_records_a_positive_difference() -> None:
    item = stock_item(produced("10"))
    events = when(item, lambda i: i.count("CNT-1", D(12), "found a pallet", T0))
    assert then(events) == [
        (
            "Counted",
            {
                "count_ref": "CNT-1",
                "counted": D(12),
                "difference": D(2),
                "reason": "found a pallet",
            },
        )
    ]
    assert item.physical == 12


def test_a_count_below_book_stock_records_a_negative_difference() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "3"))
    events = when(item, lambda i: i.count("CNT-1", D(3), "damaged", T0))
    assert then(events)[0][1]["difference"] == D(-7)
    assert (item.physical, item.locked, item.available) == (D(3), D(3), D(0))


def test_a_count_below_what_is_reserved_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "4"))
    rule = refused(item, lambda i: i.count("CNT-1", D("3.999999"), "shrinkage", T0))
    assert rule == "count-below-reserved"


def test_a_count_of_zero_on_an_item_with_no_reservations_is_allowed() -> None:
    item = stock_item(produced("10"))
    when(item, lambda i: i.count("CNT-1", D(0), "empty bin", T0))
    assert item.physical == 0


# -- transfers -------------------------------------------------------------------------


def test_transferring_out_takes_available_stock_out() -> None:
    item = stock_item(produced("10"))
    events = when(item, lambda i: i.transfer_out("TRF-1", D(4), "WH2", T0))
    assert then(events) == [
        ("TransferredOut", {"transfer_ref": "TRF-1", "quantity": D(4), "to_warehouse": "WH2"})
    ]
    assert item.physical == 6


def test_transferring_reserved_stock_out_is_refused() -> None:
    item = stock_item(produced("10"), reserved("SO-1", "8"))
    rule = refused(item, lambda i: i.transfer_out("TRF-1", D(3), "WH2", T0))
    assert rule == "transfer-exceeds-available"


def test_an_inbound_transfer_is_in_transit_until_received() -> None:
    item = stock_item()
    events = when(item, lambda i: i.expect_transfer("TRF-1", D(4), "WH2", T0))
    assert then(events) == [
        ("TransferInbound", {"transfer_ref": "TRF-1", "quantity": D(4), "from_warehouse": "WH2"})
    ]
    assert (item.physical, item.in_transit, item.inbound) == (D(0), D(4), {"TRF-1": D(4)})


def test_receiving_part_of_a_transfer_moves_it_from_transit_to_physical() -> None:
    item = stock_item(transfer_inbound("TRF-1", "4"))
    events = when(item, lambda i: i.transfer_in("TRF-1", D(1), T0))
    assert then(events) == [("TransferredIn", {"transfer_ref": "TRF-1", "quantity": D(1)})]
    assert (item.physical, item.in_transit, item.inbound) == (D(1), D(3), {"TRF-1": D(3)})


def test_receiving_a_transfer_without_a_quantity_lands_all_that_is_in_transit() -> None:
    landed_one = (StockItem.TransferredIn, {"transfer_ref": "TRF-1", "quantity": D(1)})
    item = stock_item(transfer_inbound("TRF-1", "4"), landed_one)
    events = when(item, lambda i: i.transfer_in("TRF-1", None, T0))
    assert then(events) == [("TransferredIn", {"transfer_ref": "TRF-1", "quantity": D(3)})]
    assert (item.physical, item.in_transit, item.inbound) == (D(4), D(0), {})


def test_receiving_more_of_a_transfer_than_is_in_transit_is_refused() -> None:
    item = stock_item(transfer_inbound("TRF-1", "4"))
    rule = refused(item, lambda i: i.transfer_in("TRF-1", D(5), T0))
    assert rule == "transfer-receipt-exceeds-in-transit"


def test_receiving_an_unknown_transfer_is_refused() -> None:
    item = stock_item(transfer_inbound("TRF-1", "4"))
    rule = refused(item, lambda i: i.transfer_in("TRF-2", None, T0))
    assert rule == "transfer-receipt-exceeds-in-transit"


# -- purchase-order inbound and receipts --------------------------------------------------


def test_an_approved_purchase_order_line_puts_stock_in_transit() -> None:
    item = stock_item()
    events = when(item, lambda i: i.expect_inbound("PO-1", D(10), T0))
    assert then(events) == [("InboundExpected", {"document_ref": "PO-1", "quantity": D(10)})]
    assert (item.in_transit, item.available, item.inbound) == (D(10), D(0), {"PO-1": D(10)})


def test_a_receipt_moves_its_quantity_from_in_transit_to_physical() -> None:
    item = stock_item(inbound("PO-1", "10"), inbound("PO-2", "5"))
    events = when(item, lambda i: i.receive("PO-1", D(4), T0))
    assert then(events) == [
        ("Received", {"document_ref": "PO-1", "quantity": D(4), "from_in_transit": D(4)})
    ]
    assert (item.physical, item.in_transit) == (D(4), D(11))
    assert item.inbound == {"PO-1": D(6), "PO-2": D(5)}


def test_an_over_receipt_takes_only_the_open_quantity_out_of_transit() -> None:
    item = stock_item(inbound("PO-1", "10"), inbound("PO-2", "5"))
    events = when(item, lambda i: i.receive("PO-1", D("10.5"), T0))
    assert then(events)[0][1]["from_in_transit"] == D(10)
    assert (item.physical, item.in_transit, item.inbound) == (D("10.5"), D(5), {"PO-2": D(5)})


def test_a_receipt_without_anything_in_transit_for_that_document_adds_only_physical() -> None:
    item = stock_item(inbound("PO-2", "5"))
    events = when(item, lambda i: i.receive("PO-1", D(3), T0))
    assert then(events)[0][1]["from_in_transit"] == D(0)
    assert (item.physical, item.in_transit) == (D(3), D(5))


def test_cancelling_inbound_withdraws_what_is_still_in_transit() -> None:
    item = stock_item(
        inbound("PO-1", "10"),
        (StockItem.Received, {"document_ref": "PO-1", "quantity": D(4), "from_in_transit": D(4)}),
    )
    returned: list[Any] = []
    events = when(item, lambda i: returned.append(i.cancel_inbound("PO-1", T0)))
    assert returned == [D(6)]
    assert then(events) == [("InboundCancelled", {"document_ref": "PO-1", "quantity": D(6)})]
    assert (item.physical, item.in_transit, item.inbound) == (D(4), D(0), {})


def test_cancelling_inbound_with_nothing_open_records_nothing() -> None:
    item = stock_item(inbound("PO-2", "5"))
    returned: list[Any] = []
    events = when(item, lambda i: returned.append(i.cancel_inbound("PO-1", T0)))
    assert returned == [D(0)]
    assert events == []
    assert item.in_transit == 5


# -- safety stock and replay ----------------------------------------------------------


def test_setting_safety_stock_records_the_level() -> None:
    item = stock_item()
    events = when(item, lambda i: i.set_safety_stock(D(20), T0))
    assert then(events) == [("SafetyStockSet", {"level": D(20)})]
    assert item.safety_stock == 20


def test_replaying_the_recorded_events_rebuilds_the_same_state() -> None:
    live = StockItem("SKU-1", "WH1")
    live.receive_finished_goods("MO-1", D(10), T0)
    live.expect_inbound("PO-1", D(5), T0)
    live.reserve("SO-1", D(3), T0)
    live.receive("PO-1", D(2), T0)
    live.expect_transfer("TRF-1", D(2), "WH2", T0)
    live.count("CNT-1", D(11), "recount", T0)
    live.issue_for_shipment("SO-1", D(1), "SH-1", T0)
    replayed: Any = None
    for recorded in live.collect_events():
        replayed = recorded.mutate(replayed)
    assert state(replayed) == state(live)
    assert (replayed.physical, replayed.locked) == (D(10), D(2))
