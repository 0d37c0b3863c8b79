"""StockItem: the quantities of one SKU in one warehouse, moved only by business documents.

Decide in the public method (guards raise named rule violations), record in the
`@event` method (assignments only: it runs again on every replay).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import ZERO, stable_id


def stock_item_id(sku: str, warehouse: str) -> UUID:
    return stable_id("stock-item", sku, warehouse)


class StockItem(Aggregate):
    """One SKU in one warehouse: physical, in transit, locked (reserved) and safety stock."""

    @staticmethod
    def create_id(sku: str, warehouse: str) -> UUID:
        return stock_item_id(sku, warehouse)

    @event("Opened")
    def __init__(self, sku: str, warehouse: str) -> None:
        self.sku = sku
        self.warehouse = warehouse
        self.physical = ZERO
        self.in_transit = ZERO
        self.locked = ZERO
        self.safety_stock = ZERO
        self.reservations: dict[str, Decimal] = {}  # order ref -> locked quantity
        self.inbound: dict[str, Decimal] = {}  # PO or transfer ref -> quantity in transit

    def __deepcopy__(self, memo: dict[int, Any]) -> StockItem:
        # The repository deep-copies cached aggregates on every get. Every value here is
        # immutable except the two dicts and the pending list, so copying those is enough,
        # and it stays cheap for a hot SKU with thousands of open reservations.
        copied = object.__new__(StockItem)
        copied.__dict__.update(self.__dict__)
        copied.reservations = dict(self.reservations)
        copied.inbound = dict(self.inbound)
        copied._pending_events = list(self._pending_events)
        return copied

    @property
    def available(self) -> Decimal:
        return self.physical - self.locked

    # -- inbound: purchase orders -------------------------------------------------------

    def expect_inbound(self, document_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        """A purchase order line was approved: the quantity is now on its way."""
        self._inbound_expected(document_ref, quantity, effective_at)

    @event("InboundExpected")
    def _inbound_expected(
        self, document_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        self.in_transit += quantity
        self.inbound[document_ref] = self.inbound.get(document_ref, ZERO) + quantity

    def cancel_inbound(self, document_ref: str, effective_at: datetime) -> Decimal:
        """The rest of a document's inbound quantity will not arrive; returns what was cancelled."""
        open_quantity = self.inbound.get(document_ref, ZERO)
        if open_quantity > 0:
            self._inbound_cancelled(document_ref, open_quantity, effective_at)
        return open_quantity

    @event("InboundCancelled")
    def _inbound_cancelled(
        self, document_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        self.in_transit -= quantity
        self.inbound.pop(document_ref, None)

    def receive(self, document_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        """Goods arrived against a purchase order (over-receipt is checked on the order)."""
        from_in_transit = min(quantity, self.inbound.get(document_ref, ZERO))
        self._received(document_ref, quantity, from_in_transit, effective_at)

    @event("Received")
    def _received(
        self, document_ref: str, quantity: Decimal, from_in_transit: Decimal, effective_at: datetime
    ) -> None:
        self.physical += quantity
        self.in_transit -= from_in_transit
        remaining = self.inbound.get(document_ref, ZERO) - from_in_transit
        if remaining > 0:
            self.inbound[document_ref] = remaining
        else:
            self.inbound.pop(document_ref, None)

    # -- reservations and shipment ------------------------------------------------------

    def reserve(self, order_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        if quantity > self.available:
            raise RuleViolation(
                f"cannot reserve {quantity} of {self.sku} in {self.warehouse}:"
                f" only {self.available} available",
                rule="reservation-exceeds-available",
            )
        self._reserved(order_ref, quantity, effective_at)

    @event("Reserved")
    def _reserved(self, order_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        self.locked += quantity
        self.reservations[order_ref] = self.reservations.get(order_ref, ZERO) + quantity

    def release(self, order_ref: str, quantity: Decimal | None, effective_at: datetime) -> Decimal:
        """Release some or (quantity None) all of an order's reservation; returns the amount."""
        held = self._held_for(order_ref, quantity, "release")
        amount = held if quantity is None else quantity
        self._released(order_ref, amount, effective_at)
        return amount

    @event("Released")
    def _released(self, order_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        self.locked -= quantity
        self._reduce_reservation(order_ref, quantity)

    def issue_for_shipment(
        self, order_ref: str, quantity: Decimal, shipment_ref: str, effective_at: datetime
    ) -> None:
        """Goods leave for a customer, out of that order's reservation."""
        self._held_for(order_ref, quantity, "issue")
        self._issued(order_ref, quantity, shipment_ref, effective_at)

    @event("IssuedForShipment")
    def _issued(
        self, order_ref: str, quantity: Decimal, shipment_ref: str, effective_at: datetime
    ) -> None:
        self.physical -= quantity
        self.locked -= quantity
        self._reduce_reservation(order_ref, quantity)

    def _held_for(self, order_ref: str, quantity: Decimal | None, verb: str) -> Decimal:
        held = self.reservations.get(order_ref, ZERO)
        if held <= 0 or (quantity is not None and quantity > held):
            raise RuleViolation(
                f"cannot {verb} {quantity if quantity is not None else 'the reservation'} of"
                f" {self.sku} in {self.warehouse} for {order_ref}: {held} is reserved for it",
                rule=f"{verb}-exceeds-reservation",
            )
        return held

    def _reduce_reservation(self, order_ref: str, quantity: Decimal) -> None:
        remaining = self.reservations.get(order_ref, ZERO) - quantity
        if remaining > 0:
            self.reservations[order_ref] = remaining
        else:
            self.reservations.pop(order_ref, None)

    # -- production -----------------------------------------------------------------------

    def issue_material(
        self, production_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        """Components leave stock for a production order; reserved stock is not touched."""
        self._require_available(quantity, "issue material", "material-issue-exceeds-available")
        self._material_issued(production_ref, quantity, effective_at)

    @event("MaterialIssued")
    def _material_issued(
        self, production_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        self.physical -= quantity

    def receive_finished_goods(
        self, production_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        self._finished_goods_received(production_ref, quantity, effective_at)

    @event("FinishedGoodsReceived")
    def _finished_goods_received(
        self, production_ref: str, quantity: Decimal, effective_at: datetime
    ) -> None:
        self.physical += quantity

    # -- counts, transfers, safety stock ------------------------------------------------

    def count(
        self, count_ref: str, counted: Decimal, reason: str, effective_at: datetime
    ) -> Decimal:
        """Record a physical count; the difference adjusts physical stock. Returns it."""
        if counted < self.locked:
            raise RuleViolation(
                f"count of {counted} for {self.sku} in {self.warehouse} is below the {self.locked}"
                " reserved for orders: release or reallocate reservations first",
                rule="count-below-reserved",
            )
        difference = counted - self.physical
        self._counted(count_ref, counted, difference, reason, effective_at)
        return difference

    @event("Counted")
    def _counted(
        self,
        count_ref: str,
        counted: Decimal,
        difference: Decimal,
        reason: str,
        effective_at: datetime,
    ) -> None:
        self.physical = counted

    def transfer_out(
        self, transfer_ref: str, quantity: Decimal, to_warehouse: str, effective_at: datetime
    ) -> None:
        self._require_available(quantity, "transfer", "transfer-exceeds-available")
        self._transferred_out(transfer_ref, quantity, to_warehouse, effective_at)

    @event("TransferredOut")
    def _transferred_out(
        self, transfer_ref: str, quantity: Decimal, to_warehouse: str, effective_at: datetime
    ) -> None:
        self.physical -= quantity

    def expect_transfer(
        self, transfer_ref: str, quantity: Decimal, from_warehouse: str, effective_at: datetime
    ) -> None:
        self._transfer_inbound(transfer_ref, quantity, from_warehouse, effective_at)

    @event("TransferInbound")
    def _transfer_inbound(
        self, transfer_ref: str, quantity: Decimal, from_warehouse: str, effective_at: datetime
    ) -> None:
        self.in_transit += quantity
        self.inbound[transfer_ref] = self.inbound.get(transfer_ref, ZERO) + quantity

    def transfer_in(
        self, transfer_ref: str, quantity: Decimal | None, effective_at: datetime
    ) -> Decimal:
        """Receive (part of) a transfer that is in transit to this warehouse."""
        open_quantity = self.inbound.get(transfer_ref, ZERO)
        amount = open_quantity if quantity is None else quantity
        if open_quantity <= 0 or amount > open_quantity:
            raise RuleViolation(
                f"cannot receive {amount} of transfer {transfer_ref} into {self.warehouse}:"
                f" {open_quantity} is in transit",
                rule="transfer-receipt-exceeds-in-transit",
            )
        self._transferred_in(transfer_ref, amount, effective_at)
        return amount

    @event("TransferredIn")
    def _transferred_in(self, transfer_ref: str, quantity: Decimal, effective_at: datetime) -> None:
        self.physical += quantity
        self.in_transit -= quantity
        remaining = self.inbound.get(transfer_ref, ZERO) - quantity
        if remaining > 0:
            self.inbound[transfer_ref] = remaining
        else:
            self.inbound.pop(transfer_ref, None)

    def set_safety_stock(self, level: Decimal, effective_at: datetime) -> None:
        self._safety_stock_set(level, effective_at)

    @event("SafetyStockSet")
    def _safety_stock_set(self, level: Decimal, effective_at: datetime) -> None:
        self.safety_stock = level

    def _require_available(self, quantity: Decimal, verb: str, rule: str) -> None:
        if quantity > self.available:
            raise RuleViolation(
                f"cannot {verb} {quantity} of {self.sku} from {self.warehouse}:"
                f" only {self.available} available",
                rule=rule,
            )
