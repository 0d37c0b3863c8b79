"""SalesOrder: a customer's order, from creation through approval (stock reserved per line)
to cancellation; shipping, production and invoicing attach to it as they arrive."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import MINOR_UNITS, ZERO, stable_id

CREATED, APPROVED, CANCELLED = "created", "approved", "cancelled"
PARTIALLY_SHIPPED, SHIPPED, DELIVERED = "partially_shipped", "shipped", "delivered"
SHIPPABLE = {APPROVED, PARTIALLY_SHIPPED}


def sales_order_id(number: str) -> UUID:
    return stable_id("sales-order", number)


def external_reference_id(channel: str, reference: str) -> UUID:
    return stable_id("external-reference", channel, reference)


class SalesOrder(Aggregate):
    """Lines (SKU, quantity, unit price, discount), requirements, dates and the people on it.

    Approval records, per line, what was reserved and what is short; the stock items take the
    matching reservations in the same atomic save (see `SalesCommands.approve_sales_order`).
    """

    @staticmethod
    def create_id(number: str) -> UUID:
        return sales_order_id(number)

    @event("Created")
    def __init__(
        self,
        number: str,
        customer: str,
        warehouse: str,
        lines: list[dict[str, Any]],
        currency: str,
        requirements: dict[str, str],
        requested_delivery: date | None,
        promised_date: date | None,
        salesperson: str,
        region: str,
        channel: str,
        external_ref: str | None,
    ) -> None:
        self.number = number
        self.customer = customer
        self.warehouse = warehouse
        self.lines = [dict(line) for line in lines]
        self.currency = currency
        self.requirements = dict(requirements)
        self.requested_delivery = requested_delivery
        self.promised_date = promised_date
        self.salesperson = salesperson
        self.region = region
        self.channel = channel
        self.external_ref = external_ref
        self.status = CREATED
        self.reserved: dict[str, Decimal] = {}  # line no -> quantity reserved
        self.short: dict[str, Decimal] = {}  # line no -> quantity not available at approval
        self.shipped: dict[str, Decimal] = {}  # line no -> quantity shipped
        self.shipments: dict[str, dict[str, Any]] = {}  # shipment ref -> carrier, tracking…

    def __deepcopy__(self, memo: dict[int, Any]) -> SalesOrder:
        # Copied out of the aggregate cache on every command: copy only what is mutable.
        copied = object.__new__(SalesOrder)
        copied.__dict__.update(self.__dict__)
        copied.lines = [dict(line) for line in self.lines]
        copied.requirements = dict(self.requirements)
        copied.reserved = dict(self.reserved)
        copied.short = dict(self.short)
        copied.shipped = dict(self.shipped)
        copied.shipments = {ref: dict(sent) for ref, sent in self.shipments.items()}
        copied._pending_events = list(self._pending_events)
        return copied

    @property
    def total(self) -> Decimal:
        return sum((line_amount(line, self.currency) for line in self.lines), ZERO)

    @property
    def skus(self) -> list[str]:
        return sorted({line["sku"] for line in self.lines})

    def amend(
        self,
        lines: list[dict[str, Any]] | None,
        requested_delivery: date | None,
        promised_date: date | None,
        effective_at: datetime,
    ) -> bool:
        """Change lines or dates; an approved order goes back for approval (and gives its
        reservations back, in the same save). Returns whether it was approved."""
        self.require_status({CREATED, APPROVED}, "amend")
        was_approved = self.status == APPROVED
        self._amended(
            lines if lines is not None else self.lines,
            requested_delivery if requested_delivery is not None else self.requested_delivery,
            promised_date if promised_date is not None else self.promised_date,
            effective_at,
        )
        return was_approved

    @event("Amended")
    def _amended(
        self,
        lines: list[dict[str, Any]],
        requested_delivery: date | None,
        promised_date: date | None,
        effective_at: datetime,
    ) -> None:
        self.lines = [dict(line) for line in lines]
        self.requested_delivery = requested_delivery
        self.promised_date = promised_date
        self.status = CREATED
        self.reserved = {}
        self.short = {}

    def approve(
        self, reserved: dict[int, Decimal], short: dict[int, Decimal], effective_at: datetime
    ) -> None:
        self.require_status({CREATED}, "approve")
        self._approved(
            {str(k): v for k, v in reserved.items()},
            {str(k): v for k, v in short.items()},
            effective_at,
        )

    @event("Approved")
    def _approved(
        self, reserved: dict[str, Decimal], short: dict[str, Decimal], effective_at: datetime
    ) -> None:
        self.status = APPROVED
        self.reserved = dict(reserved)
        self.short = dict(short)

    def cancel(self, reason: str, effective_at: datetime) -> None:
        self.require_status({CREATED, APPROVED}, "cancel")
        self._cancelled(reason, effective_at)

    @event("Cancelled")
    def _cancelled(self, reason: str, effective_at: datetime) -> None:
        self.status = CANCELLED
        self.reserved = {}
        self.short = {}

    def line(self, line_no: int) -> dict[str, Any]:
        for line in self.lines:
            if line["line_no"] == line_no:
                return line
        raise RuleViolation(f"sales order {self.number} has no line {line_no}", rule="no-such-line")

    def shippable(self, line_no: int) -> Decimal:
        """Reserved for the line and not shipped yet."""
        key = str(self.line(line_no)["line_no"])
        return self.reserved.get(key, ZERO) - self.shipped.get(key, ZERO)

    def reserve_shortages(self, reserved: dict[int, Decimal], effective_at: datetime) -> None:
        """Lines that were short at approval got stock now (same save as the stock items)."""
        self.require_status(SHIPPABLE, "reserve stock for")
        for line_no, qty in reserved.items():
            if qty > self.short.get(str(line_no), ZERO):
                raise RuleViolation(
                    f"line {line_no} of {self.number} is not short by {qty}",
                    rule="reservation-exceeds-shortage",
                )
        self._shortage_reserved({str(k): v for k, v in reserved.items()}, effective_at)

    @event("ShortageReserved")
    def _shortage_reserved(self, reserved: dict[str, Decimal], effective_at: datetime) -> None:
        for key, qty in reserved.items():
            self.reserved[key] = self.reserved.get(key, ZERO) + qty
            remaining = self.short.get(key, ZERO) - qty
            if remaining > 0:
                self.short[key] = remaining
            else:
                self.short.pop(key, None)

    def ship(
        self,
        shipment_ref: str,
        quantities: dict[int, Decimal],
        carrier: str,
        tracking_number: str,
        effective_at: datetime,
    ) -> None:
        """Goods leave for the customer, out of what is reserved for each line."""
        self.require_status(SHIPPABLE, "ship")
        if shipment_ref in self.shipments:
            raise RuleViolation(
                f"shipment {shipment_ref} is already recorded", rule="duplicate-shipment"
            )
        for line_no, qty in quantities.items():
            if qty > self.shippable(line_no):
                raise RuleViolation(
                    f"cannot ship {qty} on {self.number} line {line_no}:"
                    f" {self.shippable(line_no)} is reserved and not yet shipped",
                    rule="shipment-exceeds-reservation",
                )
        shipped = {str(k): v for k, v in quantities.items()}
        complete = not self.short and all(
            self.shipped.get(str(line["line_no"]), ZERO) + shipped.get(str(line["line_no"]), ZERO)
            >= Decimal(line["quantity"])
            for line in self.lines
        )
        self._shipped(shipment_ref, shipped, carrier, tracking_number, complete, effective_at)

    @event("Shipped")
    def _shipped(
        self,
        shipment_ref: str,
        quantities: dict[str, Decimal],
        carrier: str,
        tracking_number: str,
        complete: bool,
        effective_at: datetime,
    ) -> None:
        for key, qty in quantities.items():
            self.shipped[key] = self.shipped.get(key, ZERO) + qty
        self.shipments[shipment_ref] = {
            "lines": dict(quantities),
            "carrier": carrier,
            "tracking_number": tracking_number,
            "shipped_at": effective_at,
            "delivered": None,
        }
        self.status = SHIPPED if complete else PARTIALLY_SHIPPED

    def confirm_delivery(
        self, shipment_ref: str, signed_by: str, proof_ref: str, effective_at: datetime
    ) -> None:
        """The customer signed for a shipment."""
        shipment = self.shipments.get(shipment_ref)
        if shipment is None:
            raise RuleViolation(
                f"{self.number} has no shipment {shipment_ref}: nothing to confirm",
                rule="delivery-without-shipment",
            )
        if shipment["delivered"] is not None:
            raise RuleViolation(
                f"delivery of {shipment_ref} is already confirmed",
                rule="delivery-already-confirmed",
            )
        everything = self.status == SHIPPED and all(
            s["delivered"] is not None for ref, s in self.shipments.items() if ref != shipment_ref
        )
        self._delivery_confirmed(shipment_ref, signed_by, proof_ref, everything, effective_at)

    @event("DeliveryConfirmed")
    def _delivery_confirmed(
        self,
        shipment_ref: str,
        signed_by: str,
        proof_ref: str,
        everything_delivered: bool,
        effective_at: datetime,
    ) -> None:
        self.shipments[shipment_ref] = {
            **self.shipments[shipment_ref],
            "delivered": {"signed_by": signed_by, "proof_ref": proof_ref, "at": effective_at},
        }
        if everything_delivered:
            self.status = DELIVERED

    def require_status(self, allowed: set[str], verb: str) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                f"cannot {verb} sales order {self.number}: it is {self.status}",
                rule="sales-order-status",
            )


def line_amount(line: dict[str, Any], currency: str) -> Decimal:
    """Quantity × unit price less discount, rounded half-up to the currency's minor unit."""
    gross = Decimal(line["quantity"]) * Decimal(line["unit_price"])
    net = gross * (1 - Decimal(line.get("discount", ZERO)))
    return net.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), rounding=ROUND_HALF_UP)


class ExternalReference(Aggregate):
    """A channel's own id for an order (a CRM's order id): unique per channel, so a CRM that
    pushes the same order twice gets the first order back instead of a second one."""

    @staticmethod
    def create_id(channel: str, reference: str) -> UUID:
        return external_reference_id(channel, reference)

    @event("Claimed")
    def __init__(self, channel: str, reference: str, order_number: str) -> None:
        self.channel = channel
        self.reference = reference
        self.order_number = order_number
