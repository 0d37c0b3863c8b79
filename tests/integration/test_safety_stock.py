"""Safety-stock follower: exactly one requisition per gap, however often it is re-run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from api.runtime import Runtime
from domain.exceptions import RuleViolation
from domain.ledger import Ledger
from domain.requisitions import PurchaseRequisition
from tests.conftest import command_meta as meta
from tests.integration.helpers import create_po, num, produce, rows, settle, stored_events

D = Decimal


def raised_events(ledger: Ledger) -> list[Any]:
    return [e for _, e in stored_events(ledger) if isinstance(e, PurchaseRequisition.Raised)]


def alerts(runtime: Runtime) -> list[dict[str, Any]]:
    return rows(
        runtime,
        "SELECT alert_id, status, gap, requisition_number, raised_position, cleared_position"
        " FROM safety_alerts ORDER BY raised_position",
    )


def requisitions(runtime: Runtime) -> list[dict[str, Any]]:
    return rows(
        runtime,
        "SELECT requisition_id, number, sku, warehouse, quantity, status, trigger_position"
        " FROM purchase_requisitions ORDER BY trigger_position",
    )


def open_a_gap(runtime: Runtime, ledger: Ledger) -> int:
    """5 on hand, safety stock 20: projected is 15 short. Returns the triggering position."""
    produce(ledger, "SKU-1", "5")
    outcome = ledger.set_safety_stock(meta(), sku="SKU-1", warehouse="WH1", level="20")
    settle(runtime)
    return outcome.position


def test_falling_below_safety_stock_raises_exactly_one_requisition(
    runtime: Runtime, ledger: Ledger
) -> None:
    trigger = open_a_gap(runtime, ledger)
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="2")
    settle(runtime)  # the gap widens, but it is the same gap

    raised = raised_events(ledger)
    assert len(raised) == 1
    assert (raised[0].sku, raised[0].warehouse, raised[0].quantity) == ("SKU-1", "WH1", D(15))
    assert raised[0].trigger_position == trigger
    assert raised[0].meta["actor"] == "system:safety-stock"

    requisition = ledger.load(PurchaseRequisition, raised[0].originator_id, "requisition")
    assert requisition.status == "open"
    assert requisitions(runtime) == [
        {
            "requisition_id": str(requisition.id), "number": requisition.number, "sku": "SKU-1",
            "warehouse": "WH1", "quantity": requisitions(runtime)[0]["quantity"], "status": "open",
            "trigger_position": trigger,
        }
    ]  # fmt: skip
    assert num(requisitions(runtime)[0]["quantity"]) == D(15)
    [alert] = alerts(runtime)
    assert (alert["status"], num(alert["gap"]), alert["requisition_number"]) == (
        "open", D(15), requisition.number,
    )  # fmt: skip


def test_rerunning_the_follower_from_scratch_raises_no_second_requisition(
    runtime: Runtime, ledger: Ledger
) -> None:
    open_a_gap(runtime, ledger)
    first = alerts(runtime)
    with runtime.store.transaction() as cur:
        cur.execute("DELETE FROM projection_tracking WHERE name = ?", ("safety_stock",))
        cur.execute("DELETE FROM safety_alerts")
        cur.execute("DELETE FROM safety_stock_watch")
    assert runtime.runner.position("safety_stock") == 0

    settle(runtime)

    assert len(raised_events(ledger)) == 1
    assert alerts(runtime) == first
    assert len(requisitions(runtime)) == 1


def test_rebuilding_the_follower_raises_no_second_requisition(
    runtime: Runtime, ledger: Ledger
) -> None:
    open_a_gap(runtime, ledger)
    first = alerts(runtime)
    runtime.runner.rebuild("safety_stock")
    settle(runtime)
    assert len(raised_events(ledger)) == 1
    assert alerts(runtime) == first
    assert len(requisitions(runtime)) == 1


def test_the_alert_clears_when_the_gap_closes_and_a_new_gap_raises_a_new_requisition(
    runtime: Runtime, ledger: Ledger
) -> None:
    open_a_gap(runtime, ledger)
    create_po(ledger, "PO-1", [("SKU-1", "30")])
    approved = ledger.approve_purchase_order(meta(), number="PO-1")  # in transit closes the gap
    settle(runtime)
    [cleared] = alerts(runtime)
    assert cleared["status"] == "cleared"
    assert cleared["cleared_position"] == approved.position
    assert len(raised_events(ledger)) == 1

    cancelled = ledger.cancel_purchase_order(meta(), number="PO-1", reason="supplier refused")
    settle(runtime)

    raised = raised_events(ledger)
    assert len(raised) == 2
    assert raised[1].trigger_position == cancelled.position
    assert raised[0].originator_id != raised[1].originator_id
    assert [a["status"] for a in alerts(runtime)] == ["cleared", "open"]
    assert [r["trigger_position"] for r in requisitions(runtime)] == [
        raised[0].trigger_position, cancelled.position,
    ]  # fmt: skip
    assert UUID(requisitions(runtime)[1]["requisition_id"]) == raised[1].originator_id


def test_stock_that_stays_above_safety_raises_nothing(runtime: Runtime, ledger: Ledger) -> None:
    produce(ledger, "SKU-1", "50")
    ledger.set_safety_stock(meta(), sku="SKU-1", warehouse="WH1", level="20")
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="30")
    settle(runtime)
    assert raised_events(ledger) == []
    assert alerts(runtime) == []
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-2", quantity_="0.000001")
    settle(runtime)
    assert len(raised_events(ledger)) == 1


def test_closing_a_requisition_shows_in_purchasing_and_is_refused_twice(
    runtime: Runtime, ledger: Ledger
) -> None:
    open_a_gap(runtime, ledger)
    [raised] = raised_events(ledger)
    create_po(ledger, "PO-1", [("SKU-1", "15")], requisition_ref=raised.number)
    closed = ledger.close_requisition(
        meta(), requisition=raised.originator_id, purchase_order="PO-1", reason="ordered"
    )
    assert closed.result["status"] == "closed"
    settle(runtime)
    [row] = rows(runtime, "SELECT status, purchase_order FROM purchase_requisitions")
    assert row == {"status": "closed", "purchase_order": "PO-1"}
    head = ledger.head()
    with pytest.raises(RuleViolation) as error:
        ledger.close_requisition(
            meta(), requisition=raised.originator_id, purchase_order=None, reason="again"
        )
    assert error.value.rule == "requisition-closed"
    assert ledger.head() == head


def test_a_gap_that_opens_closes_and_reopens_within_one_page_raises_two_requisitions(
    runtime: Runtime, ledger: Ledger
) -> None:
    produce(ledger, "SKU-1", "5")
    opened = ledger.set_safety_stock(meta(), sku="SKU-1", warehouse="WH1", level="20")
    ledger.reserve(meta(), sku="SKU-1", warehouse="WH1", order_ref="SO-1", quantity_="1")
    closed = produce(ledger, "SKU-1", "30", ref="MO-2")
    reopened = ledger.issue_material(
        meta(), sku="SKU-1", warehouse="WH1", production_ref="MO-3", quantity_="25"
    )
    settle(runtime)  # one page holds every event above

    assert [e.trigger_position for e in raised_events(ledger)] == [
        opened.position, reopened.position,
    ]  # fmt: skip
    found = alerts(runtime)
    assert [(a["status"], a["raised_position"], a["cleared_position"]) for a in found] == [
        ("cleared", opened.position, closed.position),
        ("open", reopened.position, None),
    ]
    assert [r["trigger_position"] for r in requisitions(runtime)] == [
        opened.position, reopened.position,
    ]  # fmt: skip
