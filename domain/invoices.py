"""Invoices: one or several shipments' receivables billed to a customer under a number from
a gapless series, with a due date from the customer's payment terms.

The series is an aggregate of its own: taking the next number is a version-checked write in
the invoice's save, so two invoices issued at once can never share a number, and a number is
only taken when its invoice is stored (no gaps from refused invoices). Credit notes number
from series of their own (CN-2026-000001, …) kept the same way.

What an invoice still owes is total − payments applied − credit notes − approved write-offs.
Every reduction is dated, and none may take the invoice below zero as of its own date or any
later one (see `open_from`), so open items are never negative as of any date.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import NotFound, RuleViolation
from domain.values import ZERO, stable_id

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def invoice_id(number: str) -> UUID:
    return stable_id("invoice", number)


def series_id(code: str) -> UUID:
    return stable_id("invoice-series", code)


class InvoiceSeries(Aggregate):
    """Document numbers of one series (one per calendar year and kind: INV-2026-000001,
    CN-2026-000001, …)."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return series_id(code)

    @event("Opened")
    def __init__(self, code: str) -> None:
        self.code = code
        self.last = 0
        self.last_date: date | None = None

    def take(self, invoice_date: date) -> str:
        """The next number, for an invoice dated no earlier than the one before it: numbers
        and dates rise together, as tax authorities expect of a series."""
        if self.last_date is not None and invoice_date < self.last_date:
            raise RuleViolation(
                f"{self.code}-{self.last:06d} is dated {self.last_date.isoformat()}: the next"
                f" number of the series cannot be dated earlier ({invoice_date.isoformat()})",
                rule="invoice-date-before-last",
            )
        self._taken(self.last + 1, invoice_date)
        return f"{self.code}-{self.last:06d}"

    @event("NumberTaken")
    def _taken(self, sequence: int, invoice_date: date) -> None:
        self.last = sequence
        self.last_date = invoice_date


class Invoice(Aggregate):
    @staticmethod
    def create_id(number: str) -> UUID:
        return invoice_id(number)

    @event("Issued")
    def __init__(
        self,
        number: str,
        customer: str,
        currency: str,
        receivables: list[dict[str, Any]],
        net: Decimal,
        tax: Decimal,
        total: Decimal,
        invoice_date: date,
        payment_terms_days: int,
        due_date: date,
        effective_at: datetime,
    ) -> None:
        self.number = number
        self.customer = customer
        self.currency = currency
        self.receivables = [dict(r) for r in receivables]
        self.net = net
        self.tax = tax
        self.total = total
        self.invoice_date = invoice_date
        self.payment_terms_days = payment_terms_days
        self.due_date = due_date
        self.applied = Decimal(0)  # payments allocated and not reversed
        # Dated reductions, kept to judge a new one as of its own date (see `open_from`).
        self.allocations: dict[str, dict[str, Any]] = {}
        self.credits: dict[str, dict[str, Any]] = {}  # credit note number -> amount, dates…
        self.write_offs: dict[str, dict[str, Any]] = {}  # write-off id -> request, decision

    @property
    def credited(self) -> Decimal:
        """Credit notes against this invoice, less cancelled ones."""
        live = (c["amount"] for c in self.credits.values() if c["cancelled_date"] is None)
        return sum(live, ZERO)

    @property
    def written_off(self) -> Decimal:
        """Approved write-offs."""
        return sum((w["amount"] for w in self.write_offs.values() if w["status"] == APPROVED), ZERO)

    @property
    def open_amount(self) -> Decimal:
        return self.total - self.applied - self.credited - self.written_off

    def open_from(self, day: date) -> Decimal:
        """The least the invoice owes as of `day` or any later date, by the business dates of
        its payments, credits and write-offs: the most a reduction dated `day` may take."""
        spans = [
            *((a["amount"], a["effective_date"], a["reversed_date"])
              for a in self.allocations.values()),
            *((c["amount"], c["effective_date"], c["cancelled_date"])
              for c in self.credits.values()),
            *((w["amount"], w["effective_date"], None)
              for w in self.write_offs.values() if w["status"] == APPROVED),
        ]  # fmt: skip
        dates = {day} | {d for _, start, end in spans for d in (start, end) if d and d > day}
        return min(
            self.total - sum((x for x, s, e in spans if s <= t and (e is None or e > t)), ZERO)
            for t in dates
        )

    def apply_payment(
        self, allocation_id: str, bank_ref: str, amount: Decimal, effective_date: date
    ) -> None:
        if amount > self.open_amount:
            raise RuleViolation(
                f"invoice {self.number} has {self.open_amount} open, not {amount}",
                rule="over-allocation",
            )
        self._payment_applied(allocation_id, bank_ref, amount, effective_date)

    @event("PaymentApplied")
    def _payment_applied(
        self, allocation_id: str, bank_ref: str, amount: Decimal, effective_date: date
    ) -> None:
        self.applied += amount
        self.allocations[allocation_id] = {
            "amount": amount, "effective_date": effective_date, "reversed_date": None,
        }  # fmt: skip

    def reverse_payment(
        self, allocation_id: str, amount: Decimal, reason: str, effective_date: date
    ) -> None:
        self._payment_reversed(allocation_id, amount, reason, effective_date)

    @event("PaymentReversed")
    def _payment_reversed(
        self, allocation_id: str, amount: Decimal, reason: str, effective_date: date
    ) -> None:
        self.applied -= amount
        if allocation_id in self.allocations:
            self.allocations[allocation_id] = {
                **self.allocations[allocation_id], "reversed_date": effective_date,
            }  # fmt: skip

    # -- credit notes ----------------------------------------------------------------------

    def credit(
        self, number: str, kind: str, net: Decimal, tax: Decimal, amount: Decimal,
        effective_date: date, returned: list[dict[str, Any]],
    ) -> None:  # fmt: skip
        """Record a credit note against this invoice: never before it, never over what it
        owes as of the credit note's date or any later one."""
        self.require_not_before(effective_date, "a credit note", "credit-note-date")
        self._within_open(amount, effective_date, "a credit note", "over-credit")
        self._credited(number, kind, net, tax, amount, effective_date, returned)

    @event("Credited")
    def _credited(
        self,
        credit_note_number: str,
        kind: str,
        net: Decimal,
        tax: Decimal,
        amount: Decimal,
        effective_date: date,
        returned: list[dict[str, Any]],
    ) -> None:
        self.credits[credit_note_number] = {
            "kind": kind, "net": net, "tax": tax, "amount": amount,
            "effective_date": effective_date, "returned": [dict(r) for r in returned],
            "cancelled_date": None,
        }  # fmt: skip

    def reverse_credit(self, number: str, reason: str, effective_date: date) -> None:
        self._credit_reversed(number, self.credits[number]["amount"], reason, effective_date)

    @event("CreditReversed")
    def _credit_reversed(
        self, credit_note_number: str, amount: Decimal, reason: str, effective_date: date
    ) -> None:
        self.credits[credit_note_number] = {
            **self.credits[credit_note_number], "cancelled_date": effective_date,
        }  # fmt: skip

    # -- write-offs ------------------------------------------------------------------------

    def request_write_off(self, amount: Decimal, reason: str, requested_by: str) -> str:
        """Ask to write off (part of) what is open; returns the request's id."""
        if amount > self.open_amount:
            raise RuleViolation(
                f"invoice {self.number} has {self.open_amount} open: {amount} cannot be"
                " written off",
                rule="over-write-off",
            )
        write_off_id = f"{self.number}-W{len(self.write_offs) + 1}"
        self._write_off_requested(write_off_id, amount, reason, requested_by)
        return write_off_id

    @event("WriteOffRequested")
    def _write_off_requested(
        self, write_off_id: str, amount: Decimal, reason: str, requested_by: str
    ) -> None:
        self.write_offs[write_off_id] = {
            "amount": amount, "reason": reason, "requested_by": requested_by,
            "status": PENDING, "decided_by": None, "effective_date": None,
        }  # fmt: skip

    def approve_write_off(self, write_off_id: str, approver: str, effective_date: date) -> None:
        """Approve a pending request (not one's own): the amount stops being owed from
        `effective_date`, if the invoice still owes it then and on every later date."""
        request = self._pending(write_off_id, approver)
        what = f"write-off {write_off_id}"
        self.require_not_before(effective_date, what, "write-off-date")
        self._within_open(request["amount"], effective_date, what, "over-write-off")
        self._written_off(write_off_id, request["amount"], effective_date, approver)

    @event("WrittenOff")
    def _written_off(
        self, write_off_id: str, amount: Decimal, effective_date: date, approved_by: str
    ) -> None:
        self.write_offs[write_off_id] = {
            **self.write_offs[write_off_id], "status": APPROVED, "decided_by": approved_by,
            "effective_date": effective_date,
        }  # fmt: skip

    def reject_write_off(self, write_off_id: str, rejecter: str, reason: str) -> None:
        self._pending(write_off_id, rejecter)
        self._write_off_rejected(write_off_id, reason, rejecter)

    @event("WriteOffRejected")
    def _write_off_rejected(self, write_off_id: str, reason: str, rejected_by: str) -> None:
        self.write_offs[write_off_id] = {
            **self.write_offs[write_off_id], "status": REJECTED, "decided_by": rejected_by,
        }  # fmt: skip

    def _pending(self, write_off_id: str, decider: str) -> dict[str, Any]:
        request = self.write_offs.get(write_off_id)
        if request is None:
            raise NotFound(f"write-off {write_off_id!r} not found")
        if request["status"] != PENDING:
            raise RuleViolation(
                f"write-off {write_off_id} is already {request['status']}",
                rule="write-off-decided",
            )
        if request["requested_by"] == decider:
            raise RuleViolation(
                f"write-off {write_off_id} was requested by {decider}: someone else decides it",
                rule="write-off-self-approval",
            )
        return request

    def require_not_before(self, day: date, what: str, rule: str) -> None:
        if day < self.invoice_date:
            raise RuleViolation(
                f"{what} cannot be dated {day.isoformat()}, before invoice {self.number}"
                f" ({self.invoice_date.isoformat()})",
                rule=rule,
            )

    def _within_open(self, amount: Decimal, day: date, what: str, rule: str) -> None:
        room = self.open_from(day)
        if amount > room:
            later = "" if room == self.open_amount else f" from {day.isoformat()} on"
            raise RuleViolation(
                f"invoice {self.number} owes {room}{later}: {what} of {amount} is more",
                rule=rule,
            )
