"""Given events → when command → then events: a tiny harness for aggregate unit tests.

Facts are `(EventClass, fields)` pairs; `given` numbers them, stamps a fixed clock and
replays them through the library's own `mutate`, exactly as a repository would.
`when` runs a command and returns the events it left pending; `then` strips the envelope
(id, version, timestamp) so expectations read as business facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.purchase_orders import PurchaseOrder
from domain.stock_items import StockItem

A = TypeVar("A", bound=Aggregate)
Fact = tuple[type, dict[str, Any]]

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def D(value: str | int) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(str(value))


def given(aggregate_cls: type[A], originator_id: UUID, *facts: Fact) -> A:
    """Replay facts (the first one creates) into a fresh aggregate, as a repository would."""
    aggregate: Any = None
    for version, (event_cls, values) in enumerate(facts, start=1):
        envelope: dict[str, Any] = {
            "originator_id": originator_id,
            "originator_version": version,
            "timestamp": T0,
        }
        if version == 1:
            envelope["originator_topic"] = get_topic(aggregate_cls)
        names = {f.name for f in fields(event_cls)}
        if "effective_at" in names:
            values = {"effective_at": T0, **values}
        aggregate = event_cls(**envelope, **values).mutate(aggregate)
    assert isinstance(aggregate, aggregate_cls)
    assert not aggregate.pending_events, "given facts must not leave pending events"
    return aggregate


def when(aggregate: A, command: Callable[[A], Any]) -> list[Any]:
    """Run the command; return the events it recorded (now pending)."""
    command(aggregate)
    return list(aggregate.collect_events())


def then(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Events as (name, business fields), without the envelope or effective time."""
    return [
        (
            type(e).__name__,
            {k: v for k, v in vars(e).items() if k not in ENVELOPE | {"effective_at"}},
        )
        for e in events
    ]


def state(item: StockItem) -> dict[str, Any]:
    """Everything a refused command must leave as it was."""
    return {
        "version": item.version,
        "physical": item.physical,
        "in_transit": item.in_transit,
        "locked": item.locked,
        "safety_stock": item.safety_stock,
        "reservations": dict(item.reservations),
        "inbound": dict(item.inbound),
    }


# -- StockItem facts ---------------------------------------------------------------------

SKU, WH = "SKU-1", "WH1"
ITEM_ID = StockItem.create_id(SKU, WH)


def stock_item(*facts: Fact) -> StockItem:
    return given(StockItem, ITEM_ID, opened(), *facts)


def opened() -> Fact:
    return StockItem.Opened, {"sku": SKU, "warehouse": WH}


def produced(qty: str, ref: str = "MO-1") -> Fact:
    return StockItem.FinishedGoodsReceived, {"production_ref": ref, "quantity": D(qty)}


def reserved(ref: str, qty: str) -> Fact:
    return StockItem.Reserved, {"order_ref": ref, "quantity": D(qty)}


def inbound(ref: str, qty: str) -> Fact:
    return StockItem.InboundExpected, {"document_ref": ref, "quantity": D(qty)}


def transfer_inbound(ref: str, qty: str, source: str = "WH2") -> Fact:
    return StockItem.TransferInbound, {
        "transfer_ref": ref,
        "quantity": D(qty),
        "from_warehouse": source,
    }


# -- PurchaseOrder facts -----------------------------------------------------------------

PO = "PO-1"
PO_ID = PurchaseOrder.create_id(PO)


def purchase_order(
    *facts: Fact, lines: tuple[str, ...] = ("10",), tolerance: str = "0"
) -> PurchaseOrder:
    created = {
        "number": PO,
        "supplier": "ACME",
        "warehouse": WH,
        "lines": [
            {"line_no": no, "sku": f"SKU-{no}", "quantity": D(qty), "unit_cost": D("2.5")}
            for no, qty in enumerate(lines, start=1)
        ],
        "currency": "EUR",
        "receipt_tolerance": D(tolerance),
        "expected_at": None,
        "requisition_ref": None,
    }
    return given(PurchaseOrder, PO_ID, (PurchaseOrder.Created, created), *facts)


def approved() -> Fact:
    return PurchaseOrder.Approved, {}


def goods_received(ref: str, quantities: dict[str, str], fully: bool) -> Fact:
    return PurchaseOrder.GoodsReceived, {
        "receipt_ref": ref,
        "quantities": {k: D(v) for k, v in quantities.items()},
        "fully_received": fully,
    }


def cancelled() -> Fact:
    return PurchaseOrder.Cancelled, {"reason": "not needed"}
