"""Invoices: one or several shipments' receivables billed to a customer under a number from
a gapless series, with a due date from the customer's payment terms.

The series is an aggregate of its own: taking the next number is a version-checked write in
the invoice's save, so two invoices issued at once can never share a number, and a number is
only taken when its invoice is stored (no gaps from refused invoices).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import stable_id


def invoice_id(number: str) -> UUID:
    return stable_id("invoice", number)


def series_id(code: str) -> UUID:
    return stable_id("invoice-series", code)


class InvoiceSeries(Aggregate):
    """Invoice numbers of one series (one per calendar year: INV-2026-000001, …)."""

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
                f" invoice cannot be dated earlier ({invoice_date.isoformat()})",
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

    @property
    def open_amount(self) -> Decimal:
        return self.total - self.applied

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

    def reverse_payment(
        self, allocation_id: str, amount: Decimal, reason: str, effective_date: date
    ) -> None:
        self._payment_reversed(allocation_id, amount, reason, effective_date)

    @event("PaymentReversed")
    def _payment_reversed(
        self, allocation_id: str, amount: Decimal, reason: str, effective_date: date
    ) -> None:
        self.applied -= amount
