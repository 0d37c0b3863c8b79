"""SalesOrder: a customer's order from creation through approval, reservation, production,
shipment and the customer's sign-off.

Two things move on an order. Its *status* is the fulfilment fact the rules guard (created,
approved = stock allocated, partially shipped, shipped, delivered, cancelled). Its *stage* is
where it stands in its workflow definition (domain/workflows.py), moved by the same commands
through triggers; every stage change is a `StageChanged` event carrying the responsible role
and the SLA due time, which the timeline and the SLA monitor read.
"""

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
        workflow: str,
        workflow_version: int,
        stage: str,
        stage_role: str,
        sla_due_at: datetime | None,
        taken_at: datetime | None = None,  # business time; older events lack it
    ) -> None:
        self.number = number
        self.taken_at = taken_at
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
        self.workflow = workflow
        self.workflow_version = workflow_version
        self.stage = stage
        self.stage_role = stage_role
        self.sla_due_at = sla_due_at
        self.submitted = False
        self.levels: list[dict[str, str]] = []  # approval levels asked for at submission
        self.approvals: list[dict[str, Any]] = []  # levels approved so far
        self.submitted_facts: dict[str, Any] | None = None
        self.approved_facts: dict[str, Any] | None = None
        self.production: dict[str, dict[str, Any]] = {}  # number -> line_no, status
        self.requisitions: dict[str, int] = {}  # requisition number -> line_no
        self.closed_requisitions: set[str] = set()  # closed when the lines changed
        self.credit_hold: dict[str, Any] | None = None  # no shipment while set
        self.credit_release: dict[str, Any] | None = None  # shipments pass credit review
        # Staff's own remarks on the order (fields:internal): never shown to the customer.
        self.internal_notes: list[dict[str, Any]] = []
        self.complaints: list[dict[str, Any]] = []

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
        copied.levels = list(self.levels)
        copied.approvals = list(self.approvals)
        copied.production = {number: dict(made) for number, made in self.production.items()}
        copied.requisitions = dict(self.requisitions)
        copied.closed_requisitions = set(self.closed_requisitions)
        copied.internal_notes = list(self.internal_notes)
        copied.complaints = list(self.complaints)
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
    ) -> None:
        """Change lines or dates before shipment. Changed lines undo the submission and any
        allocation (the caller releases the reservations in the same save)."""
        self.require_status({CREATED, APPROVED}, "amend")
        self._amended(
            lines if lines is not None else self.lines,
            requested_delivery if requested_delivery is not None else self.requested_delivery,
            promised_date if promised_date is not None else self.promised_date,
            lines is not None,
            effective_at,
        )

    @event("Amended")
    def _amended(
        self,
        lines: list[dict[str, Any]],
        requested_delivery: date | None,
        promised_date: date | None,
        lines_changed: bool,
        effective_at: datetime,
    ) -> None:
        self.lines = [dict(line) for line in lines]
        self.requested_delivery = requested_delivery
        self.promised_date = promised_date
        if lines_changed:
            self.status = CREATED
            self.reserved = {}
            self.short = {}
            self.submitted = False
            self.levels = []
            self.approvals = []
            # The caller closed them in the same save: the new lines are routed afresh.
            self.closed_requisitions = set(self.requisitions)

    # -- approval ----------------------------------------------------------------------------

    @property
    def awaiting_approval(self) -> bool:
        return self.submitted and self.status == CREATED and len(self.approvals) < len(self.levels)

    def submit(
        self,
        levels: list[dict[str, str]],
        facts: dict[str, Any],
        policy_version: int | None,
        effective_at: datetime,
    ) -> None:
        self.require_status({CREATED}, "submit")
        if self.submitted:
            raise RuleViolation(
                f"sales order {self.number} is already submitted", rule="already-submitted"
            )
        self._submitted(levels, facts, policy_version, effective_at)

    @event("Submitted")
    def _submitted(
        self,
        levels: list[dict[str, str]],
        facts: dict[str, Any],
        policy_version: int | None,
        effective_at: datetime,
    ) -> None:
        self.submitted = True
        self.levels = [dict(level) for level in levels]
        self.approvals = []
        self.submitted_facts = facts
        if not levels:
            self.approved_facts = facts

    def current_level(self, verb: str) -> tuple[int, dict[str, str]]:
        """The level waiting for a decision (1-based), or a refusal naming why none is."""
        if not self.awaiting_approval:
            state = "not submitted" if not self.submitted else "not awaiting approval"
            raise RuleViolation(
                f"cannot {verb} sales order {self.number}: it is {state}"
                f" (stage {self.stage}, status {self.status})",
                rule="not-awaiting-approval",
            )
        index = len(self.approvals)
        return index + 1, self.levels[index]

    def give_approval(self, role: str | None, comment: str, effective_at: datetime) -> bool:
        """Approve the current level; returns whether it was the last one."""
        level, wanted = self.current_level("approve")
        _require_role(role, wanted["role"], f"level {level} of {self.number}")
        final = level == len(self.levels)
        next_role = None if final else self.levels[level]["role"]
        self._approval_given(level, wanted["role"], comment, final, next_role, effective_at)
        return final

    @event("ApprovalGiven")
    def _approval_given(
        self,
        level: int,
        role: str,
        comment: str,
        final: bool,
        next_role: str | None,
        effective_at: datetime,
    ) -> None:
        self.approvals.append({"level": level, "role": role, "comment": comment})
        if final:
            self.approved_facts = self.submitted_facts
        elif next_role is not None:  # the next level's role is now responsible for it
            self.stage_role = next_role

    def reject(self, role: str | None, comment: str, effective_at: datetime) -> None:
        """Send the order back to the salesperson; a later submission starts over."""
        level, wanted = self.current_level("reject")
        _require_role(role, wanted["role"], f"level {level} of {self.number}")
        self._rejected(level, wanted["role"], comment, effective_at)

    @event("Rejected")
    def _rejected(self, level: int, role: str, comment: str, effective_at: datetime) -> None:
        self.submitted = False
        self.approvals = []

    # -- workflow stage ------------------------------------------------------------------------

    def change_stage(
        self,
        to_stage: str,
        trigger: str,
        role: str,
        notify: bool,
        sla_due_at: datetime | None,
        comment: str,
        effective_at: datetime,
    ) -> None:
        self._stage_changed(
            self.stage, to_stage, trigger, role, notify, sla_due_at, comment, effective_at
        )

    @event("StageChanged")
    def _stage_changed(
        self,
        from_stage: str,
        to_stage: str,
        trigger: str,
        role: str,
        notify: bool,
        sla_due_at: datetime | None,
        comment: str,
        effective_at: datetime,
    ) -> None:
        self.stage = to_stage
        self.stage_role = role
        self.sla_due_at = sla_due_at

    # -- short lines: production and purchasing ------------------------------------------------

    def route_shortages(self, routes: list[dict[str, Any]], effective_at: datetime) -> None:
        """Record where each short line's goods will come from (production or purchase)."""
        self._shortage_routed([dict(route) for route in routes], effective_at)

    @event("ShortageRouted")
    def _shortage_routed(self, routes: list[dict[str, Any]], effective_at: datetime) -> None:
        for route in routes:
            if route["kind"] == "production":
                self.production[route["document"]] = {
                    "line_no": route["line_no"],
                    "status": "scheduled",
                }
            else:
                self.requisitions[route["document"]] = route["line_no"]

    @property
    def routed_lines(self) -> set[int]:
        """Short lines already waiting on a live production order or a requisition."""
        # Received production has delivered (and reserved) its goods: a line short again
        # after that needs new routing.
        live = {
            made["line_no"]
            for made in self.production.values()
            if made["status"] not in ("cancelled", "detached", "received")
        }
        return live | {
            line
            for number, line in self.requisitions.items()
            if number not in self.closed_requisitions
        }

    def production_progressed(
        self, production_number: str, status: str, effective_at: datetime
    ) -> None:
        self._production_progressed(production_number, status, effective_at)

    @event("ProductionProgressed")
    def _production_progressed(
        self, production_number: str, status: str, effective_at: datetime
    ) -> None:
        self.production[production_number] = {
            **self.production[production_number],
            "status": status,
        }

    def production_all(self, statuses: set[str]) -> bool:
        """Every live production order of this order is in one of `statuses`."""
        live = [
            made["status"]
            for made in self.production.values()
            if made["status"] not in ("cancelled", "detached")
        ]
        return bool(live) and all(status in statuses for status in live)

    def waits_on(self, production_number: str) -> int | None:
        """The short line a received production order should be reserved for, if any."""
        made = self.production.get(production_number)
        if made is None or made["status"] in ("cancelled", "detached"):
            return None
        if self.status not in SHIPPABLE or str(made["line_no"]) not in self.short:
            return None
        return int(made["line_no"])

    def allocate(
        self, reserved: dict[int, Decimal], short: dict[int, Decimal], effective_at: datetime
    ) -> None:
        """Approved in full: each line reserved or recorded short (the stock items take the
        reservations in the same save)."""
        self.require_status({CREATED}, "allocate stock to")
        if not self.submitted or len(self.approvals) < len(self.levels):
            raise RuleViolation(
                f"sales order {self.number} is not approved yet", rule="not-approved"
            )
        self._allocated(
            {str(k): v for k, v in reserved.items()},
            {str(k): v for k, v in short.items()},
            effective_at,
        )

    @event("StockAllocated")
    def _allocated(
        self, reserved: dict[str, Decimal], short: dict[str, Decimal], effective_at: datetime
    ) -> None:
        self.status = APPROVED
        self.reserved = dict(reserved)
        self.short = dict(short)

    @property
    def ordered_quantity(self) -> Decimal:
        return sum((Decimal(line["quantity"]) for line in self.lines), ZERO)

    def progress(self) -> dict[str, Decimal]:
        """Shipped and delivered as percentages of what was ordered (two places)."""
        ordered = self.ordered_quantity
        delivered = sum(
            (
                qty
                for shipment in self.shipments.values()
                if shipment["delivered"] is not None
                for qty in shipment["lines"].values()
            ),
            ZERO,
        )
        shipped = sum(self.shipped.values(), ZERO)
        return {
            "shipped_pct": _pct(shipped, ordered),
            "delivered_pct": _pct(delivered, ordered),
        }

    def cancel(self, reason: str, effective_at: datetime) -> None:
        self.require_status({CREATED, APPROVED}, "cancel")
        self._cancelled(reason, effective_at)

    @event("Cancelled")
    def _cancelled(self, reason: str, effective_at: datetime) -> None:
        self.status = CANCELLED
        self.reserved = {}
        self.short = {}

    def add_internal_note(self, note: str, author: str, at: datetime) -> None:
        """A remark for staff only (kept whatever the order's status)."""
        self._internal_note_added(note, author, at)

    @event("InternalNoteAdded")
    def _internal_note_added(self, note: str, author: str, at: datetime) -> None:
        self.internal_notes.append({"note": note, "by": author, "at": at})

    def record_complaint(self, category: str, reason: str, effective_at: datetime) -> str:
        """A customer's complaint about this order; returns its id (`<number>-C<n>`)."""
        if self.status == CREATED and not self.submitted:
            raise RuleViolation(
                f"sales order {self.number} has not been submitted: nothing to complain about",
                rule="complaint-before-submission",
            )
        complaint_id = f"{self.number}-C{len(self.complaints) + 1}"
        self._complaint_recorded(complaint_id, category, reason, effective_at)
        return complaint_id

    @event("ComplaintRecorded")
    def _complaint_recorded(
        self, complaint_id: str, category: str, reason: str, effective_at: datetime
    ) -> None:
        self.complaints.append(
            {"id": complaint_id, "category": category, "reason": reason, "at": effective_at}
        )

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
        self.check_shipment(shipment_ref, quantities)
        shipped = {str(k): v for k, v in quantities.items()}
        complete = not self.short and all(
            self.shipped.get(str(line["line_no"]), ZERO) + shipped.get(str(line["line_no"]), ZERO)
            >= Decimal(line["quantity"])
            for line in self.lines
        )
        self._shipped(shipment_ref, shipped, carrier, tracking_number, complete, effective_at)

    def check_shipment(self, shipment_ref: str, quantities: dict[int, Decimal]) -> None:
        """The rules a shipment must pass, checked without recording anything."""
        self.require_status(SHIPPABLE, "ship")
        if self.credit_hold is not None:
            raise RuleViolation(
                f"sales order {self.number} is on credit hold ({self.credit_hold['reason']});"
                " finance or a manager must release it before it ships",
                rule="credit-hold",
            )
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
        if complete:  # a release lasts until the order is fully shipped
            self.credit_release = None

    # -- credit control -----------------------------------------------------------------------

    def hold_credit(
        self,
        reason: str,
        source: str,
        actor: str,
        role: str | None,
        figures: dict[str, Any],
        shipment_ref: str | None,
        effective_at: datetime,
    ) -> None:
        """Stop shipments until finance releases the order (`source`: shipment or manual);
        a hold ends any release given before it."""
        self.require_status({CREATED} | SHIPPABLE, "put on credit hold")
        if self.credit_hold is not None:
            raise RuleViolation(
                f"sales order {self.number} is already on credit hold", rule="already-on-hold"
            )
        self._credit_held(reason, source, actor, role, dict(figures), shipment_ref, effective_at)

    @event("CreditHeld")
    def _credit_held(
        self,
        reason: str,
        source: str,
        actor: str,
        role: str | None,
        figures: dict[str, Any],
        shipment_ref: str | None,
        effective_at: datetime,
    ) -> None:
        self.credit_hold = {
            "reason": reason, "source": source, "actor": actor, "role": role,
            "figures": figures, "shipment_ref": shipment_ref, "since": effective_at,
        }  # fmt: skip
        self.credit_release = None

    def release_credit(
        self, reason: str, actor: str, role: str | None, effective_at: datetime
    ) -> None:
        """Lift a hold, or clear the order for shipment before any: its shipments pass the
        credit review until it is fully shipped or held again."""
        self.require_status({CREATED} | SHIPPABLE, "release")
        if self.credit_hold is None and self.credit_release is not None:
            raise RuleViolation(
                f"sales order {self.number} is already released for shipment",
                rule="already-released",
            )
        self._credit_released(reason, actor, role, effective_at)

    @event("CreditReleased")
    def _credit_released(
        self, reason: str, actor: str, role: str | None, effective_at: datetime
    ) -> None:
        self.credit_hold = None
        self.credit_release = {
            "reason": reason, "actor": actor, "role": role, "since": effective_at,
        }  # fmt: skip

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
        quantity = sum(shipment["lines"].values(), ZERO)
        self._delivery_confirmed(
            shipment_ref, signed_by, proof_ref, quantity, everything, effective_at
        )

    @event("DeliveryConfirmed")
    def _delivery_confirmed(
        self,
        shipment_ref: str,
        signed_by: str,
        proof_ref: str,
        quantity: Decimal,
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


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return ZERO
    return (part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _require_role(role: str | None, wanted: str, what: str) -> None:
    if role != wanted:
        raise RuleViolation(
            f"{what} is for role {wanted}; this request acts as {role or 'no role'}",
            rule="approver-role",
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
