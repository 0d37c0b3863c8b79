"""SalesOrder shipments, delivery sign-off and late reservation of short lines, without a
database: what may ship, how the status moves, and every refusal by its rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from domain.exceptions import RuleViolation
from domain.sales_orders import SalesOrder
from tests.unit.given import T0, D, given, then, when

SO = "SO-1"
SO_ID = SalesOrder.create_id(SO)


def line(no: int, qty: str, sku: str = "SKU-1") -> dict[str, Any]:
    return {"line_no": no, "sku": sku, "quantity": D(qty), "unit_price": D("2.50"),
            "discount": D(0)}  # fmt: skip


def created(*lines: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    return SalesOrder.Created, {
        "number": SO, "customer": "C-1", "warehouse": "WH1",
        "lines": list(lines) or [line(1, "10")], "currency": "EUR",
        "requirements": {}, "requested_delivery": date(2025, 4, 1), "promised_date": None,
        "salesperson": "ann", "region": "north", "channel": "api", "external_ref": None,
        "workflow": "standard", "workflow_version": 1, "stage": "created",
        "stage_role": "sales", "sla_due_at": None, "taken_at": None,
    }  # fmt: skip


def approved(reserved: dict[str, str], short: dict[str, str] | None = None) -> Any:
    return SalesOrder.StockAllocated, {
        "reserved": {k: D(v) for k, v in reserved.items()},
        "short": {k: D(v) for k, v in (short or {}).items()},
    }


def shipped(ref: str, quantities: dict[str, str], complete: bool) -> Any:
    return SalesOrder.Shipped, {
        "shipment_ref": ref, "quantities": {k: D(v) for k, v in quantities.items()},
        "carrier": "DHL", "tracking_number": f"TRK-{ref}", "complete": complete,
    }  # fmt: skip


def delivered(ref: str, everything: bool) -> Any:
    return SalesOrder.DeliveryConfirmed, {
        "shipment_ref": ref, "signed_by": "Eve", "proof_ref": f"POD-{ref}",
        "quantity": D(10), "everything_delivered": everything,
    }  # fmt: skip


def sales_order(*facts: Any, lines: tuple[dict[str, Any], ...] = ()) -> SalesOrder:
    return given(SalesOrder, SO_ID, created(*lines), *facts)


TWO_LINES = (line(1, "10"), line(2, "4", sku="SKU-2"))


def ship(ref: str, quantities: dict[int, str]) -> Callable[[SalesOrder], None]:
    return lambda o: o.ship(ref, {k: D(v) for k, v in quantities.items()}, "DHL", "TRK", T0)


def snapshot(order: SalesOrder) -> tuple[Any, ...]:
    return (
        order.version, order.status, dict(order.reserved), dict(order.short),
        dict(order.shipped), {ref: dict(s) for ref, s in order.shipments.items()},
    )  # fmt: skip


def refused(order: SalesOrder, command: Callable[[SalesOrder], Any]) -> str:
    """The command raises a rule violation and leaves the order exactly as it was."""
    before = snapshot(order)
    with pytest.raises(RuleViolation) as error:
        command(order)
    assert order.pending_events == []
    assert snapshot(order) == before
    return error.value.rule


# -- shipping ----------------------------------------------------------------------------------


def test_shipping_part_of_an_approved_order_records_the_shipment_and_partially_ships_it() -> None:
    order = sales_order(approved({"1": "10", "2": "4"}), lines=TWO_LINES)

    events = when(order, lambda o: o.ship("SH-1", {1: D(6)}, "DHL", "JD0001", T0))

    assert then(events) == [("Shipped", {
        "shipment_ref": "SH-1", "quantities": {"1": D(6)}, "carrier": "DHL",
        "tracking_number": "JD0001", "complete": False,
    })]  # fmt: skip
    assert order.status == "partially_shipped"
    assert order.shipped == {"1": D(6)}
    assert order.shipments["SH-1"] == {
        "lines": {"1": D(6)}, "carrier": "DHL", "tracking_number": "JD0001",
        "shipped_at": T0, "delivered": None,
    }  # fmt: skip
    assert (order.shippable(1), order.shippable(2)) == (D(4), D(4))


def test_shipping_the_rest_after_a_partial_shipment_makes_the_order_shipped() -> None:
    order = sales_order(approved({"1": "10", "2": "4"}), lines=TWO_LINES)
    statuses = [order.status]

    for ref, quantities in (("SH-1", {1: "6"}), ("SH-2", {1: "4", 2: "4"})):
        when(order, ship(ref, quantities))
        statuses.append(order.status)

    assert statuses == ["approved", "partially_shipped", "shipped"]
    assert order.shipped == {"1": D(10), "2": D(4)}
    assert (order.shippable(1), order.shippable(2)) == (D(0), D(0))


def test_shipping_everything_in_one_shipment_makes_the_order_shipped_at_once() -> None:
    order = sales_order(approved({"1": "10", "2": "4"}), lines=TWO_LINES)

    events = when(order, ship("SH-1", {1: "10", 2: "4"}))

    assert then(events)[0][1]["complete"] is True
    assert order.status == "shipped"


@pytest.mark.parametrize(
    ("facts", "quantities", "line_no", "shippable"),
    [
        ((), {1: "10.000001"}, 1, "10"),  # more than reserved
        ((shipped("SH-0", {"1": "7"}, False),), {1: "4"}, 1, "3"),  # more than reserved - shipped
        ((), {2: "1"}, 2, "0"),  # a short line has nothing reserved to ship
        ((), {1: "1", 2: "1"}, 2, "0"),  # one bad line refuses the whole shipment
    ],
)
def test_shipping_more_than_is_reserved_and_unshipped_is_refused(
    facts: tuple[Any, ...], quantities: dict[int, str], line_no: int, shippable: str
) -> None:
    order = sales_order(approved({"1": "10"}, {"2": "4"}), *facts, lines=TWO_LINES)
    assert order.shippable(line_no) == D(shippable)

    assert refused(order, ship("SH-1", quantities)) == "shipment-exceeds-reservation"


def test_shipping_exactly_what_is_reserved_and_unshipped_is_accepted() -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-0", {"1": "7"}, False))

    when(order, ship("SH-1", {1: "3"}))

    assert order.shipped == {"1": D(10)}
    assert order.shippable(1) == D(0)


def test_a_short_line_keeps_the_order_partially_shipped_though_all_reserved_is_shipped() -> None:
    order = sales_order(approved({"1": "10"}, {"2": "4"}), lines=TWO_LINES)

    events = when(order, ship("SH-1", {1: "10"}))

    assert then(events)[0][1]["complete"] is False
    assert order.status == "partially_shipped"
    assert order.short == {"2": D(4)}


def test_a_shipment_ref_used_twice_is_refused() -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-1", {"1": "2"}, False))

    assert refused(order, ship("SH-1", {1: "2"})) == "duplicate-shipment"


def test_shipping_a_line_the_order_does_not_have_is_refused() -> None:
    order = sales_order(approved({"1": "10"}))

    assert refused(order, ship("SH-1", {9: "1"})) == "no-such-line"


@pytest.mark.parametrize(
    "facts",
    [
        (),  # created: not approved yet
        (approved({"1": "10"}), (SalesOrder.Cancelled, {"reason": "lost"})),
        (approved({"1": "10"}), shipped("SH-0", {"1": "10"}, True)),
        (approved({"1": "10"}), shipped("SH-0", {"1": "10"}, True), delivered("SH-0", True)),
    ],
    ids=["created", "cancelled", "shipped", "delivered"],
)
def test_shipping_an_order_that_is_not_approved_or_partially_shipped_is_refused(
    facts: tuple[Any, ...],
) -> None:
    order = sales_order(*facts)

    assert refused(order, ship("SH-1", {1: "1"})) == "sales-order-status"


# -- delivery ----------------------------------------------------------------------------------


def test_confirming_delivery_records_who_signed_and_the_proof() -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-1", {"1": "4"}, False))

    events = when(order, lambda o: o.confirm_delivery("SH-1", "Eve", "POD-1", T0))

    assert then(events) == [("DeliveryConfirmed", {
        "shipment_ref": "SH-1", "signed_by": "Eve", "proof_ref": "POD-1",
        "quantity": D(4), "everything_delivered": False,
    })]  # fmt: skip
    assert order.shipments["SH-1"]["delivered"] == {
        "signed_by": "Eve", "proof_ref": "POD-1", "at": T0,
    }  # fmt: skip
    assert order.status == "partially_shipped"


def test_confirming_delivery_of_an_unknown_shipment_is_refused() -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-1", {"1": "4"}, False))

    rule = refused(order, lambda o: o.confirm_delivery("SH-404", "Eve", "", T0))

    assert rule == "delivery-without-shipment"


def test_confirming_delivery_of_an_order_never_shipped_is_refused() -> None:
    order = sales_order(approved({"1": "10"}))

    rule = refused(order, lambda o: o.confirm_delivery("SH-1", "Eve", "", T0))

    assert rule == "delivery-without-shipment"


def test_confirming_the_same_delivery_twice_is_refused() -> None:
    order = sales_order(
        approved({"1": "10"}), shipped("SH-1", {"1": "4"}, False), delivered("SH-1", False)
    )

    rule = refused(order, lambda o: o.confirm_delivery("SH-1", "Bob", "POD-2", T0))

    assert rule == "delivery-already-confirmed"
    assert order.shipments["SH-1"]["delivered"]["signed_by"] == "Eve"


def test_a_fully_shipped_order_is_delivered_only_once_every_shipment_is_confirmed() -> None:
    order = sales_order(
        approved({"1": "10"}),
        shipped("SH-1", {"1": "6"}, False),
        shipped("SH-2", {"1": "4"}, True),
    )
    assert order.status == "shipped"

    first = when(order, lambda o: o.confirm_delivery("SH-2", "Eve", "", T0))

    assert then(first)[0][1]["everything_delivered"] is False
    assert order.status == "shipped"

    last = when(order, lambda o: o.confirm_delivery("SH-1", "Eve", "", T0))

    assert then(last)[0][1]["everything_delivered"] is True
    assert order.status == "delivered"


def test_a_partially_shipped_order_is_not_delivered_though_every_shipment_is_signed() -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-1", {"1": "6"}, False))

    events = when(order, lambda o: o.confirm_delivery("SH-1", "Eve", "", T0))

    assert then(events)[0][1]["everything_delivered"] is False
    assert order.status == "partially_shipped"


def test_signing_for_the_last_shipment_after_the_earlier_ones_delivers_the_order() -> None:
    order = sales_order(
        approved({"1": "10"}),
        shipped("SH-1", {"1": "6"}, False),
        delivered("SH-1", False),
        shipped("SH-2", {"1": "4"}, True),
    )

    when(order, lambda o: o.confirm_delivery("SH-2", "Eve", "", T0))

    assert order.status == "delivered"


def test_a_short_order_shipped_and_signed_for_as_far_as_reserved_stays_partially_shipped() -> None:
    order = sales_order(
        approved({"1": "10"}, {"2": "4"}), shipped("SH-1", {"1": "10"}, False), lines=TWO_LINES
    )

    when(order, lambda o: o.confirm_delivery("SH-1", "Eve", "", T0))

    assert order.status == "partially_shipped"


# -- no cancel or amend once goods have left --------------------------------------------------


@pytest.mark.parametrize("complete", [False, True], ids=["partially_shipped", "shipped"])
@pytest.mark.parametrize(
    "command",
    [
        lambda o: o.cancel("too late", T0),
        lambda o: o.amend([line(1, "3")], None, None, T0),
        lambda o: o.amend(None, date(2025, 6, 1), None, T0),
        lambda o: o.allocate({1: D(10)}, {}, T0),
    ],
    ids=["cancel", "amend-lines", "amend-dates", "approve"],
)
def test_cancelling_amending_or_approving_after_a_shipment_is_refused(
    complete: bool, command: Callable[[SalesOrder], Any]
) -> None:
    order = sales_order(approved({"1": "10"}), shipped("SH-1", {"1": "10" if complete else "3"},
                                                       complete))  # fmt: skip

    assert refused(order, command) == "sales-order-status"


# -- late reservation of short lines ----------------------------------------------------------


def test_reserving_a_shortage_moves_the_quantity_from_short_to_reserved() -> None:
    order = sales_order(approved({"1": "10"}, {"2": "4"}), lines=TWO_LINES)

    events = when(order, lambda o: o.reserve_shortages({2: D(4)}, T0))

    assert then(events) == [("ShortageReserved", {"reserved": {"2": D(4)}})]
    assert (order.reserved, order.short) == ({"1": D(10), "2": D(4)}, {})
    assert order.shippable(2) == D(4)
    assert order.status == "approved"


def test_reserving_part_of_a_shortage_leaves_the_rest_short() -> None:
    order = sales_order(approved({}, {"1": "10"}))

    when(order, lambda o: o.reserve_shortages({1: D(3)}, T0))

    assert (order.reserved, order.short) == ({"1": D(3)}, {"1": D(7)})


@pytest.mark.parametrize(
    "reserved",
    [{2: "4.000001"}, {1: "1"}, {2: "4", 1: "1"}],
    ids=["more-than-short", "line-not-short", "one-line-not-short"],
)
def test_reserving_more_than_a_line_is_short_is_refused(reserved: dict[int, str]) -> None:
    order = sales_order(approved({"1": "10"}, {"2": "4"}), lines=TWO_LINES)

    rule = refused(order, lambda o: o.reserve_shortages({k: D(v) for k, v in reserved.items()}, T0))

    assert rule == "reservation-exceeds-shortage"


def test_a_reserved_shortage_can_ship_and_then_completes_the_order() -> None:
    order = sales_order(
        approved({"1": "10"}, {"2": "4"}), shipped("SH-1", {"1": "10"}, False), lines=TWO_LINES
    )

    when(order, lambda o: o.reserve_shortages({2: D(4)}, T0))
    assert order.status == "partially_shipped"
    when(order, ship("SH-2", {2: "4"}))

    assert order.status == "shipped"
    assert order.shipped == {"1": D(10), "2": D(4)}


@pytest.mark.parametrize(
    "facts",
    [
        (),
        ((SalesOrder.Cancelled, {"reason": "lost"}),),
    ],
    ids=["created", "cancelled"],
)
def test_reserving_shortages_of_an_order_that_cannot_ship_is_refused(
    facts: tuple[Any, ...],
) -> None:
    order = sales_order(*facts)

    assert refused(order, lambda o: o.reserve_shortages({1: D(1)}, T0)) == "sales-order-status"
