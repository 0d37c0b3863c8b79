"""Customers: who orders, where to bill and ship, on what terms, within what credit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.values import stable_id

ACTIVE, BLOCKED = "active", "blocked"


def customer_id(code: str) -> UUID:
    return stable_id("customer", code)


class Customer(Aggregate):
    """A customer account; its credit limit is read by finance's credit control."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return customer_id(code)

    @event("Registered")
    def __init__(
        self,
        code: str,
        name: str,
        contacts: list[dict[str, Any]],
        billing_address: str,
        shipping_address: str,
        region: str,
        payment_terms_days: int,
        credit_limit: Decimal,
        currency: str,
    ) -> None:
        self.code = code
        self.name = name
        self.contacts = [dict(contact) for contact in contacts]
        self.billing_address = billing_address
        self.shipping_address = shipping_address
        self.region = region
        self.payment_terms_days = payment_terms_days
        self.credit_limit = credit_limit
        self.currency = currency
        self.status = ACTIVE
        self.flags: list[str] = []  # read by the approval rules; finance sets credit flags

    def block(self, reason: str) -> None:
        if self.status == BLOCKED:
            raise RuleViolation(f"customer {self.code} is already blocked", rule="customer-status")
        self._status_changed(BLOCKED, reason)

    def unblock(self, reason: str) -> None:
        if self.status == ACTIVE:
            raise RuleViolation(f"customer {self.code} is not blocked", rule="customer-status")
        self._status_changed(ACTIVE, reason)

    @event("StatusChanged")
    def _status_changed(self, status: str, reason: str) -> None:
        self.status = status

    def change_credit_limit(self, credit_limit: Decimal, reason: str) -> None:
        """A new limit (0: none) from now on; orders already approved or held keep their
        decisions, the next approval or shipment review judges against the new one."""
        if credit_limit == self.credit_limit:
            raise RuleViolation(
                f"customer {self.code}'s credit limit is already {credit_limit}",
                rule="credit-limit-unchanged",
            )
        self._credit_limit_changed(self.code, credit_limit, self.credit_limit, reason)

    @event("CreditLimitChanged")
    def _credit_limit_changed(
        self, code: str, credit_limit: Decimal, previous: Decimal, reason: str
    ) -> None:
        self.credit_limit = credit_limit

    def set_flags(self, flags: list[str], reason: str) -> None:
        if flags == self.flags:
            raise RuleViolation(
                f"customer {self.code} already has flags {flags}", rule="flags-unchanged"
            )
        self._flags_changed(list(flags), reason)

    @event("FlagsChanged")
    def _flags_changed(self, flags: list[str], reason: str) -> None:
        self.flags = list(flags)
