"""Stock commands on a real event store: reservations, shipment, production, counts, transfers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.exceptions import NotFound, RuleViolation
from domain.ledger import Ledger
from domain.stock_items import StockItem
from tests.conftest import command_meta as meta
from tests.integration.helpers import levels, names, produce, stored_events

D = Decimal


def reserve(ledger: Ledger, order: str, qty: str, sku: str = "SKU-1") -> object:
    return ledger.reserve(meta("reserve"), sku=sku, warehouse="WH1", order_ref=order, quantity_=qty)


def test_reserving_locks_stock_and_reports_what_is_left(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    outcome = reserve(ledger, "SO-1", "4")
    assert outcome.result["available"] == "6"
    assert outcome.result["locked"] == "4"
    assert outcome.position == ledger.head()
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(4))


def test_reserving_more_than_available_is_refused_and_stores_nothing(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    reserve(ledger, "SO-1", "4")
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        reserve(ledger, "SO-2", "7")
    assert error.value.rule == "reservation-exceeds-available"
    assert ledger.head() == head
    assert levels(ledger, "SKU-1") == (D(10), D(0), D(4))


def test_release_and_issue_for_shipment_move_locked_and_physical(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    reserve(ledger, "SO-1", "6")
    released = ledger.release(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="1")
    assert released.result["released"] == "1"
    ledger.issue_for_shipment(
        meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="3", shipment_ref="SH-1"
    )
    assert levels(ledger, "SKU-1") == (D(7), D(0), D(2))
    rest = ledger.release(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1")
    assert rest.result["released"] == "2"
    assert levels(ledger, "SKU-1") == (D(7), D(0), D(0))
    with pytest.raises(RuleViolation) as error:
        ledger.issue_for_shipment(
            meta(),
            sku="SKU-1",
            warehouse="WH1",
            order_ref="SO-1",
            quantity_="1",
            shipment_ref="SH-2",
        )
    assert error.value.rule == "issue-exceeds-reservation"


def test_material_issue_and_finished_goods_change_physical_stock(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10", ref="MO-1")
    reserve(ledger, "SO-1", "3")
    ledger.issue_material(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-2", quantity_="7"
    )
    assert levels(ledger, "SKU-1") == (D(3), D(0), D(3))
    with pytest.raises(RuleViolation) as error:
        ledger.issue_material(
            meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-2", quantity_="1"
        )
    assert error.value.rule == "material-issue-exceeds-available"


def test_a_count_adjusts_physical_stock_by_the_difference(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    reserve(ledger, "SO-1", "3")
    outcome = ledger.count_stock(
        meta(), sku="SKU-1", warehouse="WH1", counted="8.5", reason="shrinkage", count_ref="CNT-1"
    )
    assert outcome.result["difference"] == "-1.5"
    assert levels(ledger, "SKU-1") == (D("8.5"), D(0), D(3))
    counted = [e for _, e in stored_events(ledger) if isinstance(e, StockItem.Counted)]
    assert [(e.counted, e.difference, e.reason) for e in counted] == [
        (D("8.5"), D("-1.5"), "shrinkage")
    ]


def test_a_count_below_reserved_is_refused_and_stores_nothing(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    reserve(ledger, "SO-1", "3")
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.count_stock(meta(), sku="SKU-1", warehouse="WH1", counted="2", reason="lost")
    assert error.value.rule == "count-below-reserved"
    assert ledger.head() == head


def test_a_count_of_a_never_stocked_item_opens_it(ledger: Ledger) -> None:
    ledger.count_stock(meta(), sku="SKU-2", warehouse="WH2", counted="5", reason="found")
    assert levels(ledger, "SKU-2", "WH2") == (D(5), D(0), D(0))


def test_a_transfer_writes_both_stock_items_in_one_save(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    before = ledger.head()
    command = meta("transfer")
    outcome = ledger.transfer(
        command, sku="SKU-1", from_warehouse="WH1", to_warehouse="WH2", quantity_="4",
        transfer_ref="TRF-1",
    )  # fmt: skip
    written = stored_events(ledger, start=before + 1)
    assert [p for p, _ in written] == list(range(before + 1, outcome.position + 1))
    assert names(written) == [
        "StockItem.TransferredOut",
        "StockItem.Opened",
        "StockItem.TransferInbound",
    ]
    assert {e.meta["correlation_id"] for _, e in written} == {command.correlation_id}
    assert levels(ledger, "SKU-1", "WH1") == (D(6), D(0), D(0))
    assert levels(ledger, "SKU-1", "WH2") == (D(0), D(4), D(0))

    ledger.receive_transfer(
        meta(), sku="SKU-1", warehouse="WH2", transfer_ref="TRF-1", quantity_="1"
    )
    ledger.receive_transfer(meta(), sku="SKU-1", warehouse="WH2", transfer_ref="TRF-1")
    assert levels(ledger, "SKU-1", "WH2") == (D(4), D(0), D(0))
    with pytest.raises(RuleViolation) as error:
        ledger.receive_transfer(meta(), sku="SKU-1", warehouse="WH2", transfer_ref="TRF-1")
    assert error.value.rule == "transfer-receipt-exceeds-in-transit"


def test_a_refused_transfer_writes_neither_side(ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "10")
    reserve(ledger, "SO-1", "8")
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.transfer(
            meta(), sku="SKU-1", from_warehouse="WH1", to_warehouse="WH2", quantity_="3"
        )
    assert error.value.rule == "transfer-exceeds-available"
    assert ledger.head() == head
    assert StockItem.create_id("SKU-1", "WH2") not in ledger.repository


def test_stock_of_an_unknown_product_or_warehouse_is_not_found(ledger: Ledger) -> None:
    head = ledger.head()
    with pytest.raises(NotFound):
        produce(ledger, "SKU-404", "1")
    with pytest.raises(NotFound):
        produce(ledger, "SKU-1", "1", warehouse="WH404")
    assert ledger.head() == head


def test_a_stock_item_past_its_snapshot_interval_reloads_with_the_same_state(
    ledger: Ledger,
) -> None:
    produce(ledger, "SKU-1", "1000")
    for n in range(160):
        reserve(ledger, f"SO-{n % 7}", "1.5")
        if n % 3 == 0:
            ledger.release(
                meta(), sku="SKU-1", warehouse="WH1", order_ref=f"SO-{n % 7}", quantity_="0.5"
            )
    live = ledger.stock_item("SKU-1", "WH1")
    assert live.version > 200  # past StockItem's snapshotting interval
    fresh = type(ledger)(ledger.env)
    assert fresh.snapshots is not None
    assert list(fresh.snapshots.get(live.id))  # a snapshot was taken
    reloaded = fresh.stock_item("SKU-1", "WH1")
    assert reloaded.version == live.version
    assert (reloaded.physical, reloaded.locked, reloaded.reservations) == (
        live.physical, live.locked, live.reservations,
    )  # fmt: skip
    fresh.close()
