"""Payment: money received from a customer (a bank receipt), and where it was applied.

Each allocation of a payment to an invoice is an event on both, saved together; undoing one
is a reversing event (`Unallocated` / `PaymentReversed`), never an edit. What is unapplied
and what an invoice still owes follow from those events, and so does either as of any date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import ZERO, stable_id


def payment_id(bank_ref: str) -> UUID:
    return stable_id("payment", bank_ref)


class Payment(Aggregate):
    @staticmethod
    def create_id(bank_ref: str) -> UUID:
        return payment_id(bank_ref)

    @event("Received")
    def __init__(
        self,
        bank_ref: str,
        payer: str,
        amount: Decimal,
        currency: str,
        value_date: date,
        remittance: str,
        source: str,
    ) -> None:
        self.bank_ref = bank_ref
        self.payer = payer
        self.amount = amount
        self.currency = currency
        self.value_date = value_date
        self.remittance = remittance
        self.source = source
        self.allocations: dict[str, dict[str, Any]] = {}  # allocation id -> invoice, amount…

    def __deepcopy__(self, memo: dict[int, Any]) -> Payment:
        copied = object.__new__(Payment)
        copied.__dict__.update(self.__dict__)
        copied.allocations = {key: dict(a) for key, a in self.allocations.items()}
        copied._pending_events = list(self._pending_events)
        return copied

    @property
    def unapplied(self) -> Decimal:
        return self.amount - sum(
            (a["amount"] for a in self.allocations.values() if a["active"]), ZERO
        )

    def allocate(
        self, invoice_number: str, amount: Decimal, rule: str, effective_date: date
    ) -> str:
        """Apply part of the payment to an invoice; returns the allocation's id."""
        if amount > self.unapplied:
            raise RuleViolation(
                f"payment {self.bank_ref} has {self.unapplied} unapplied, not {amount}",
                rule="over-allocation",
            )
        allocation = f"{self.bank_ref}-A{len(self.allocations) + 1}"
        self._allocated(allocation, invoice_number, amount, rule, effective_date)
        return allocation

    @event("Allocated")
    def _allocated(
        self,
        allocation_id: str,
        invoice_number: str,
        amount: Decimal,
        rule: str,
        effective_date: date,
    ) -> None:
        self.allocations[allocation_id] = {
            "invoice_number": invoice_number,
            "amount": amount,
            "rule": rule,
            "effective_date": effective_date,
            "active": True,
        }

    def unallocate(self, allocation_id: str, reason: str, effective_date: date) -> dict[str, Any]:
        """Reverse an allocation; returns what it was."""
        allocation = self.allocations.get(allocation_id)
        if allocation is None:
            raise RuleViolation(
                f"payment {self.bank_ref} has no allocation {allocation_id}",
                rule="no-such-allocation",
            )
        if not allocation["active"]:
            raise RuleViolation(
                f"allocation {allocation_id} is already reversed", rule="already-unallocated"
            )
        self._unallocated(
            allocation_id, allocation["invoice_number"], allocation["amount"], reason,
            effective_date,
        )  # fmt: skip
        return allocation

    @event("Unallocated")
    def _unallocated(
        self,
        allocation_id: str,
        invoice_number: str,
        amount: Decimal,
        reason: str,
        effective_date: date,
    ) -> None:
        self.allocations[allocation_id] = {**self.allocations[allocation_id], "active": False}
