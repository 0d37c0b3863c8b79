"""Explain a figure, diff two moments, the audit trail and a stock item effective at a
business time, over one small history (tests/audit_history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.runtime import Runtime
from domain.exceptions import InvalidInput, NotFound
from replay import diff, explain, trail
from replay.effective import stock_item_effective
from replay.moments import at_position, at_time
from replay.scratch import ScratchFactory, scratch_factory
from tests.audit_history import DAY1, DAY2, DAY3, DAY4, INVOICE, NOW, Marks, build
from tests.replay_clock import Clock

D = Decimal


def scratch(runtime: Runtime) -> ScratchFactory:
    settings = runtime.settings
    return scratch_factory(settings.postgres_conninfo() if settings.is_postgres else None)


@pytest.fixture
def history(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Marks:
    return build(runtime.ledger, Clock(monkeypatch, NOW))


def lines(report: dict[str, Any], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(line[f] for f in fields) for line in report["lines"]]


def test_available_is_explained_by_the_receipt_and_the_reservation(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    report = explain.explain_inventory(
        ledger, scratch(runtime), at_position(ledger, ledger.head()), "SKU-1", "WH1"
    )
    assert report["value"] == report["total"] == 6
    assert lines(report, "event_type", "contribution", "running", "actor", "role", "command") == [
        ("StockItem.Received", 10, 10, "walt", "warehouse", "receive_purchase_order"),
        ("StockItem.Reserved", -4, 6, "ann", "sales", "submit_sales_order"),
    ]
    assert report["lines"][0]["effective"] == DAY1 + timedelta(hours=3)
    assert report["lines"][0]["recorded_at"] == DAY3
    assert report["unchanged"] == 2  # expected inbound, shipment: available unchanged


def test_each_inventory_figure_adds_up_to_the_replayed_figure(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    expected = {
        "physical": ([10, -3], 7),
        "locked": ([4, -3], 1),
        "in_transit": ([10, -10], 0),
    }
    for figure, (contributions, value) in expected.items():
        report = explain.explain_inventory(
            ledger, scratch(runtime), at_position(ledger, ledger.head()), "SKU-1", "WH1",
            figure=figure,
        )  # fmt: skip
        assert [c for (c,) in lines(report, "contribution")] == contributions, figure
        assert report["value"] == value, figure
    before_receipt = explain.explain_inventory(
        ledger, scratch(runtime), at_position(ledger, history.po_approved), "SKU-1", "WH1",
        figure="in_transit",
    )  # fmt: skip
    assert before_receipt["value"] == 10
    assert lines(before_receipt, "position") == [(history.po_approved,)]


def test_effective_inventory_explains_the_back_dated_receipt_as_known_4th_not_2nd(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    known_4th, known_2nd = at_time(ledger, DAY4, NOW), at_time(ledger, DAY2, NOW)
    physical = explain.explain_inventory(
        ledger, scratch(runtime), known_4th, "SKU-1", "WH1", figure="physical", effective=DAY2
    )
    assert physical["value"] == 10
    assert lines(physical, "event_type") == [("StockItem.Received",)]
    earlier = explain.explain_inventory(
        ledger, scratch(runtime), known_2nd, "SKU-1", "WH1", figure="physical", effective=DAY2
    )
    assert earlier["value"] == 0
    assert earlier["lines"] == []
    item = stock_item_effective(ledger, known_4th, "SKU-1", "WH1", DAY2)
    assert (item["physical"], item["in_transit"], item["locked"]) == (10, 0, 0)
    item = stock_item_effective(ledger, known_2nd, "SKU-1", "WH1", DAY2)
    assert (item["physical"], item["in_transit"], item["locked"]) == (0, 10, 0)
    item = stock_item_effective(ledger, at_position(ledger, ledger.head()), "SKU-1", "WH1", NOW)
    assert (item["physical"], item["locked"], item["available"]) == (7, 1, 6)


def test_the_open_amount_of_an_invoice_is_its_total_less_payment_and_credit(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    now = at_position(ledger, ledger.head())
    report = explain.explain_invoice(ledger, scratch(runtime), now, INVOICE)
    assert report["as_of"] == date(2024, 3, 4)
    assert lines(report, "event_type", "contribution", "running", "actor") == [
        ("Invoice.Issued", D("7.50"), D("7.50"), "fiona"),
        ("Invoice.PaymentApplied", D("-5.00"), D("2.50"), "fiona"),
        ("Invoice.Credited", D("-1.00"), D("1.50"), "fiona"),
    ]
    assert report["value"] == D("1.50")
    assert report["status"] == "partially_paid"
    # On the 3rd nothing had been paid or credited yet, even as known now.
    on_3rd = explain.explain_invoice(ledger, scratch(runtime), now, INVOICE, as_of=date(2024, 3, 3))
    assert on_3rd["value"] == D("7.50")
    assert [c for (c,) in lines(on_3rd, "contribution")] == [D("7.50"), 0, 0]
    before_payment = explain.explain_invoice(
        ledger, scratch(runtime), at_position(ledger, history.invoiced), INVOICE,
        as_of=date(2024, 3, 4),
    )  # fmt: skip
    assert before_payment["value"] == D("7.50")
    assert len(before_payment["lines"]) == 1


def test_an_order_s_status_and_stage_are_explained_event_by_event(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    report = explain.explain_order(
        ledger, scratch(runtime), at_position(ledger, ledger.head()), "SO-1"
    )
    assert report["value"] == {"status": "partially_shipped", "stage": "stock_confirmed"}
    assert lines(report, "event_type", "status", "stage")[0] == (
        "SalesOrder.Created",
        "created",
        "created",
    )
    assert lines(report, "event_type", "actor")[-1] == ("SalesOrder.Shipped", "walt")
    assert report["lines"][-1]["detail"] == "status approved → partially_shipped"
    reserved = explain.explain_order(
        ledger, scratch(runtime), at_position(ledger, history.reserved), "SO-1"
    )
    assert reserved["value"]["status"] == "approved"


def test_a_diff_lists_what_changed_per_item_order_and_invoice(
    runtime: Runtime, history: Marks
) -> None:
    ledger = runtime.ledger
    report = diff.diff(
        ledger, scratch(runtime), at_position(ledger, history.reserved),
        at_position(ledger, ledger.head()),
    )  # fmt: skip
    [item] = report["inventory"]
    assert (item["sku"], item["warehouse"]) == ("SKU-1", "WH1")
    assert item["before"]["physical"] == 10
    assert item["after"]["physical"] == 7
    assert item["delta"] == {"physical": -3, "in_transit": 0, "locked": -3, "available": 0,
                             "projected": 0}  # fmt: skip
    [order] = report["orders"]
    assert order["before"] == {"status": "approved", "stage": "stock_confirmed"}
    assert order["after"] == {"status": "partially_shipped", "stage": "stock_confirmed"}
    [invoice] = report["receivables"]
    assert (invoice["open_before"], invoice["open_after"], invoice["new"]) == (
        None,
        D("1.50"),
        True,
    )
    between = diff.diff(
        ledger, scratch(runtime), at_position(ledger, history.invoiced),
        at_position(ledger, history.paid), models=("receivables", "orders"),
    )  # fmt: skip
    assert between["orders"] == []
    [paid] = between["receivables"]
    assert (paid["open_before"], paid["open_after"], paid["delta"]) == (
        D("7.50"),
        D("2.50"),
        D("-5.00"),
    )


def entries(runtime: Runtime, **filters: Any) -> list[tuple[int, str]]:
    found = trail.resolve_filter(runtime.ledger, now=NOW, **filters)
    return [(e.position, e.event_type) for e in trail.entries(runtime.ledger, found)]


def test_each_trail_filter_narrows_to_exactly_its_events(runtime: Runtime, history: Marks) -> None:
    walt = entries(runtime, actor="walt")
    assert [t for _, t in walt] == [
        "PurchaseOrder.GoodsReceived", "StockItem.Received", "SalesOrder.Shipped",
        "StockItem.IssuedForShipment", "Receivable.Recognised",
    ]  # fmt: skip
    assert entries(runtime, role="warehouse") == walt
    assert [t for _, t in entries(runtime, aggregate="SKU-1@WH1", actor="ann")] == [
        "StockItem.Reserved"
    ]
    assert [t for _, t in entries(runtime, aggregate="PO-1")] == [
        "PurchaseOrder.Created",
        "PurchaseOrder.Approved",
        "PurchaseOrder.GoodsReceived",
    ]
    assert [t for _, t in entries(runtime, aggregate="Invoice")] == [
        "Invoice.Issued",
        "Invoice.PaymentApplied",
        "Invoice.Credited",
    ]
    assert [t for _, t in entries(runtime, types=["SalesOrder.Shipped"])] == ["SalesOrder.Shipped"]
    assert entries(runtime, aggregate="Invoice", types=["SalesOrder.Shipped"]) == []
    on_4th = entries(runtime, from_time=DAY4, actor="fiona")
    assert {t for _, t in on_4th} >= {"Payment.Received", "Invoice.Credited"}
    assert all(p > history.invoiced for p, _ in on_4th)
    upto = entries(runtime, from_position=history.reserved + 1, to_position=history.shipped)
    assert [p for p, _ in upto] == list(range(history.reserved + 1, history.shipped + 1))
    [first] = entries(runtime, aggregate="SalesOrder:SO-1", types=["SalesOrder.Created"])
    found = trail.resolve_filter(runtime.ledger, now=NOW, aggregate="SO-1")
    [created] = [e for e in trail.entries(runtime.ledger, found) if e.position == first[0]]
    assert (created.business_key, created.actor, created.role, created.command) == (
        "SO-1",
        "ann",
        "sales",
        "create_sales_order",
    )


def test_trail_pages_follow_the_cursor(runtime: Runtime, history: Marks) -> None:
    found = trail.resolve_filter(runtime.ledger, now=NOW, actor="walt")
    first = trail.page(runtime.ledger, found, limit=3)
    second = trail.page(runtime.ledger, found, after=first["next"], limit=3)
    assert len(first["entries"]) == 3
    assert len(second["entries"]) == 2
    assert second["next"] is None
    assert first["entries"][-1]["position"] < second["entries"][0]["position"]


def test_bad_input_is_refused_and_unknown_things_are_not_found(
    runtime: Runtime, history: Marks
) -> None:
    ledger, store = runtime.ledger, scratch(runtime)
    now = at_position(ledger, ledger.head())
    head = ledger.head()
    with pytest.raises(NotFound, match="no stock of SKU-9 in warehouse WH1"):
        explain.explain_inventory(ledger, store, now, "SKU-9", "WH1")
    with pytest.raises(NotFound, match="sales order SO-9 did not exist"):
        explain.explain_order(ledger, store, now, "SO-9")
    with pytest.raises(NotFound, match="invoice INV-9 did not exist"):
        explain.explain_invoice(ledger, store, now, "INV-9")
    with pytest.raises(NotFound, match="did not exist as of position"):
        explain.explain_invoice(ledger, store, at_position(ledger, history.shipped), INVOICE)
    with pytest.raises(InvalidInput, match="unknown figure 'free'"):
        explain.explain_inventory(ledger, store, now, "SKU-1", "WH1", figure="free")
    with pytest.raises(InvalidInput, match="must come before"):
        diff.diff(ledger, store, now, at_position(ledger, history.paid))
    with pytest.raises(InvalidInput, match="unknown model"):
        diff.diff(ledger, store, at_position(ledger, 1), now, models=("stock",))
    bad: list[dict[str, Any]] = [
        {"types": ["SalesOrder.Teleported"]}, {"aggregate": "Spaceship:X"},
        {"from_position": head + 1}, {"from_position": 0}, {"to_position": head + 5},
        {"from_position": 5, "to_position": 4}, {"from_time": DAY1 - timedelta(days=9)},
        {"to_time": NOW + timedelta(days=1)}, {"from_time": DAY4, "to_time": DAY3},
    ]  # fmt: skip
    for filters in bad:
        with pytest.raises(InvalidInput):
            trail.resolve_filter(ledger, now=NOW, **filters)
    with pytest.raises(NotFound, match="the log has no anything known as 'SO-404'"):
        trail.resolve_filter(ledger, now=NOW, aggregate="SO-404")
    assert ledger.head() == head  # nothing written


def test_trail_entries_name_their_aggregate_even_when_its_creation_is_outside_the_range(
    runtime: Runtime, history: Marks
) -> None:
    found = trail.resolve_filter(runtime.ledger, now=NOW, types=["SalesOrder.Shipped"])
    from_shipment = trail.resolve_filter(
        runtime.ledger, now=NOW, from_position=history.received + 1, aggregate="SKU-1@WH1"
    )

    [shipped] = trail.entries(runtime.ledger, found)
    assert (shipped.event_type, shipped.business_key) == ("SalesOrder.Shipped", "SO-1")
    assert {e.business_key for e in trail.entries(runtime.ledger, from_shipment)} == {"SKU-1@WH1"}
