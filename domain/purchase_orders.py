"""PurchaseOrder: draft → approved → partially received → received, or cancelled."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import ZERO, stable_id

DRAFT = "draft"
APPROVED = "approved"
PARTIALLY_RECEIVED = "partially_received"
RECEIVED = "received"
CANCELLED = "cancelled"


def purchase_order_id(number: str) -> UUID:
    return stable_id("purchase-order", number)


class PurchaseOrder(Aggregate):
    """An order to a supplier; its approval puts stock in transit, its receipts land it."""

    @staticmethod
    def create_id(number: str) -> UUID:
        return purchase_order_id(number)

    @event("Created")
    def __init__(
        self,
        number: str,
        supplier: str,
        warehouse: str,
        lines: list[dict[str, Any]],
        currency: str,
        receipt_tolerance: Decimal,
        expected_at: datetime | None,
        requisition_ref: str | None,
    ) -> None:
        self.number = number
        self.supplier = supplier
        self.warehouse = warehouse
        # Copy: the event keeps a reference to the list it was given.
        self.lines = [dict(line) for line in lines]
        self.received: dict[str, Decimal] = {str(line["line_no"]): ZERO for line in lines}
        self.currency = currency
        self.receipt_tolerance = receipt_tolerance
        self.expected_at = expected_at
        self.requisition_ref = requisition_ref
        self.status = DRAFT
        self.receipt_refs: list[str] = []

    def line(self, line_no: int) -> dict[str, Any]:
        for line in self.lines:
            if line["line_no"] == line_no:
                return line
        raise RuleViolation(
            f"purchase order {self.number} has no line {line_no}", rule="no-such-line"
        )

    def open_quantity(self, line_no: int) -> Decimal:
        return max(ZERO, Decimal(self.line(line_no)["quantity"]) - self.received[str(line_no)])

    def approve(self, effective_at: datetime) -> None:
        self._require_status({DRAFT}, "approve")
        self._approved(effective_at)

    @event("Approved")
    def _approved(self, effective_at: datetime) -> None:
        self.status = APPROVED

    def receive(
        self, receipt_ref: str, quantities: dict[int, Decimal], effective_at: datetime
    ) -> None:
        """Record a goods receipt; each line may take up to ordered × (1 + tolerance)."""
        self._require_status({APPROVED, PARTIALLY_RECEIVED}, "receive against")
        if receipt_ref in self.receipt_refs:
            raise RuleViolation(
                f"receipt {receipt_ref} is already recorded on {self.number}",
                rule="duplicate-receipt",
            )
        for line_no, qty in quantities.items():
            self._check_receipt(line_no, qty)
        fully = all(
            self.received[str(line["line_no"])] + quantities.get(line["line_no"], ZERO)
            >= Decimal(line["quantity"])
            for line in self.lines
        )
        received = {str(k): v for k, v in quantities.items()}
        self._goods_received(receipt_ref, received, fully, effective_at)

    def _check_receipt(self, line_no: int, qty: Decimal) -> None:
        ordered = Decimal(self.line(line_no)["quantity"])
        limit = ordered * (1 + self.receipt_tolerance)
        already = self.received[str(line_no)]
        if already + qty > limit:
            raise RuleViolation(
                f"receiving {qty} on {self.number} line {line_no} would make {already + qty}"
                f" of {ordered} ordered (tolerance {self.receipt_tolerance:%} allows {limit})",
                rule="over-receipt",
            )

    @event("GoodsReceived")
    def _goods_received(
        self,
        receipt_ref: str,
        quantities: dict[str, Decimal],
        fully_received: bool,
        effective_at: datetime,
    ) -> None:
        for line_no, qty in quantities.items():
            self.received[line_no] = self.received[line_no] + qty
        self.receipt_refs.append(receipt_ref)
        self.status = RECEIVED if fully_received else PARTIALLY_RECEIVED

    def cancel(self, reason: str, effective_at: datetime) -> None:
        """Cancel the order, or the unreceived rest of it."""
        self._require_status({DRAFT, APPROVED, PARTIALLY_RECEIVED}, "cancel")
        self._cancelled(reason, effective_at)

    @event("Cancelled")
    def _cancelled(self, reason: str, effective_at: datetime) -> None:
        self.status = CANCELLED

    def _require_status(self, allowed: set[str], verb: str) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                f"cannot {verb} purchase order {self.number}: it is {self.status}",
                rule="purchase-order-status",
            )
