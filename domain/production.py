"""ProductionOrder: making a quantity of one SKU, for stock or for a waiting sales order line.

scheduled → materials issued → completed → QC passed (→ received into stock) or QC failed
(→ back to scheduled for rework). Only a production order that has not started (scheduled,
nothing issued) can be cancelled: once materials are consumed, the goods are made anyway.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import stable_id

SCHEDULED, MATERIALS_ISSUED, COMPLETED = "scheduled", "materials_issued", "completed"
QC_PASSED, QC_FAILED, RECEIVED, CANCELLED = "qc_passed", "qc_failed", "received", "cancelled"


def production_order_id(number: str) -> UUID:
    return stable_id("production-order", number)


class ProductionOrder(Aggregate):
    """What to make, where, how much, and for which sales order line (if any)."""

    @staticmethod
    def create_id(number: str) -> UUID:
        return production_order_id(number)

    @event("Scheduled")
    def __init__(
        self,
        number: str,
        sku: str,
        warehouse: str,
        quantity: Decimal,
        sales_order: str | None,
        line_no: int | None,
        effective_at: datetime,
    ) -> None:
        self.number = number
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.sales_order = sales_order
        self.line_no = line_no
        self.status = SCHEDULED
        self.materials: dict[str, Decimal] = {}  # component SKU -> quantity issued
        self.produced: Decimal | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> ProductionOrder:
        copied = object.__new__(ProductionOrder)
        copied.__dict__.update(self.__dict__)
        copied.materials = dict(self.materials)
        copied._pending_events = list(self._pending_events)
        return copied

    def issue_materials(self, components: dict[str, Decimal], effective_at: datetime) -> None:
        self.require({SCHEDULED, MATERIALS_ISSUED}, "issue materials to")
        self._materials_issued(dict(components), effective_at)

    @event("MaterialsIssued")
    def _materials_issued(self, components: dict[str, Decimal], effective_at: datetime) -> None:
        for sku, qty in components.items():
            self.materials[sku] = self.materials.get(sku, Decimal(0)) + qty
        self.status = MATERIALS_ISSUED

    def complete(self, produced: Decimal, effective_at: datetime) -> None:
        self.require({MATERIALS_ISSUED}, "complete")
        self._completed(produced, effective_at)

    @event("Completed")
    def _completed(self, produced: Decimal, effective_at: datetime) -> None:
        self.produced = produced
        self.status = COMPLETED

    def record_qc(self, passed: bool, notes: str, effective_at: datetime) -> None:
        self.require({COMPLETED}, "record quality control for")
        self._qc_recorded(passed, notes, effective_at)

    @event("QcRecorded")
    def _qc_recorded(self, passed: bool, notes: str, effective_at: datetime) -> None:
        self.status = QC_PASSED if passed else QC_FAILED

    def rework(self, reason: str, effective_at: datetime) -> None:
        self.require({QC_FAILED}, "rework")
        self._reworked(reason, effective_at)

    @event("Reworked")
    def _reworked(self, reason: str, effective_at: datetime) -> None:
        self.status = MATERIALS_ISSUED  # the materials are in the goods being reworked
        self.produced = None

    def receive(self, effective_at: datetime) -> Decimal:
        """Passed goods go into stock; returns the quantity received."""
        self.require({QC_PASSED}, "receive")
        assert self.produced is not None
        self._received(self.produced, effective_at)
        return self.produced

    @event("Received")
    def _received(self, quantity: Decimal, effective_at: datetime) -> None:
        self.status = RECEIVED

    def cancel(self, reason: str, effective_at: datetime) -> None:
        self.require(
            {SCHEDULED, MATERIALS_ISSUED, COMPLETED, QC_PASSED, QC_FAILED}, "cancel"
        )  # already cancelled or received: nothing to cancel
        if self.status != SCHEDULED:
            raise RuleViolation(
                f"production order {self.number} has started ({self.status}): it cannot be"
                " cancelled",
                rule="production-started",
            )
        self._cancelled(reason, effective_at)

    @event("Cancelled")
    def _cancelled(self, reason: str, effective_at: datetime) -> None:
        self.status = CANCELLED

    def require(self, allowed: set[str], verb: str) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                f"cannot {verb} production order {self.number}: it is {self.status}",
                rule="production-order-status",
            )
