"""PurchaseRequisition: a request to buy, raised when projected stock falls below safety."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import stable_id

OPEN = "open"
CLOSED = "closed"


def requisition_number(req_id: UUID) -> str:
    """A requisition's number, from its id."""
    return f"REQ-{req_id.hex[:10].upper()}"


def requisition_id(stock_item: UUID, trigger_position: int, for_order: str | None = None) -> UUID:
    """One requisition per gap: a safety-stock gap is identified by the event that opened
    it; a sales order's short line by the requisition number the order gave it."""
    if for_order is not None:
        return stable_id("order-requisition", for_order)
    return stable_id("requisition", str(stock_item), str(trigger_position))


class PurchaseRequisition(Aggregate):
    """A request to purchase a quantity of one SKU for one warehouse."""

    @staticmethod
    def create_id(stock_item: UUID, trigger_position: int, for_order: str | None = None) -> UUID:
        return requisition_id(stock_item, trigger_position, for_order)

    @event("Raised")
    def __init__(
        self,
        stock_item: UUID,
        trigger_position: int,
        number: str,
        sku: str,
        warehouse: str,
        quantity: Decimal,
        reason: str,
        for_order: str | None = None,
    ) -> None:
        self.stock_item = stock_item
        self.trigger_position = trigger_position
        self.number = number
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.reason = reason
        self.for_order = for_order  # the sales order line's requisition number, if any
        self.status = OPEN
        self.purchase_order: str | None = None

    def close(self, purchase_order: str | None, reason: str) -> None:
        if self.status != OPEN:
            raise RuleViolation(
                f"requisition {self.number} is already closed", rule="requisition-closed"
            )
        self._closed(purchase_order, reason)

    @event("Closed")
    def _closed(self, purchase_order: str | None, reason: str) -> None:
        self.status = CLOSED
        self.purchase_order = purchase_order
