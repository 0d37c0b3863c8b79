"""Receivable: money a customer owes for one shipment, recognised in the shipment's own save.

A receivable starts *pending invoice*: the goods have left, nobody has billed them yet.
Invoicing, payments and credit notes attach to it as finance's commands arrive; whether it is
open, paid or overdue is derived as of a date from those events, never stored as a flag.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import RuleViolation
from domain.sales_orders import line_amount
from domain.values import MINOR_UNITS, ZERO, stable_id

PENDING_INVOICE, INVOICED = "pending_invoice", "invoiced"


def receivable_id(order_number: str, shipment_ref: str) -> UUID:
    return stable_id("receivable", order_number, shipment_ref)


def shipped_lines(
    lines: list[dict[str, Any]], quantities: dict[int, Decimal], currency: str
) -> list[dict[str, Any]]:
    """What one shipment bills, per line: quantity shipped × unit price less discount,
    rounded half-up to the currency's minor unit (as the order's own line amounts are)."""
    by_number = {line["line_no"]: line for line in lines}
    billed = []
    for line_no, qty in sorted(quantities.items()):
        line = by_number[line_no]
        shipped = {**line, "quantity": qty}
        billed.append(
            {
                "line_no": line_no,
                "sku": line["sku"],
                "quantity": qty,
                "unit_price": Decimal(line["unit_price"]),
                "discount": Decimal(line.get("discount", ZERO)),
                "amount": line_amount(shipped, currency),
            }
        )
    return billed


def tax_on(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """Tax at `rate` on the net amount, rounded half-up to the currency's minor unit."""
    unit = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    return (amount * rate).quantize(unit, rounding=ROUND_HALF_UP)


class Receivable(Aggregate):
    """One shipment's amount owed: net of discounts, with tax at the configured rate."""

    @staticmethod
    def create_id(order_number: str, shipment_ref: str) -> UUID:
        return receivable_id(order_number, shipment_ref)

    @event("Recognised")
    def __init__(
        self,
        order_number: str,
        shipment_ref: str,
        customer: str,
        currency: str,
        lines: list[dict[str, Any]],
        net: Decimal,
        tax_rate: Decimal,
        tax: Decimal,
        total: Decimal,
        effective_at: datetime,
    ) -> None:
        self.order_number = order_number
        self.shipment_ref = shipment_ref
        self.customer = customer
        self.currency = currency
        self.lines = [dict(line) for line in lines]
        self.net = net
        self.tax_rate = tax_rate
        self.tax = tax
        self.total = total
        self.recognised_at = effective_at
        self.status = PENDING_INVOICE
        self.invoice_number: str | None = None
        self.invoice_date: date | None = None
        self.due_date: date | None = None

    @classmethod
    def for_shipment(
        cls,
        order_number: str,
        shipment_ref: str,
        customer: str,
        currency: str,
        lines: list[dict[str, Any]],
        tax_rate: Decimal,
        effective_at: datetime,
    ) -> Receivable:
        net = sum((line["amount"] for line in lines), ZERO)
        tax = tax_on(net, tax_rate, currency)
        return cls(
            order_number, shipment_ref, customer, currency, lines, net, tax_rate, tax,
            net + tax, effective_at,
        )  # fmt: skip

    def invoice(self, number: str, invoice_date: date, due_date: date) -> None:
        if self.status != PENDING_INVOICE:
            raise RuleViolation(
                f"shipment {self.shipment_ref} of {self.order_number} is already invoiced"
                f" ({self.invoice_number})",
                rule="already-invoiced",
            )
        self._invoiced(number, invoice_date, due_date)

    @event("Invoiced")
    def _invoiced(self, invoice_number: str, invoice_date: date, due_date: date) -> None:
        self.status = INVOICED
        self.invoice_number = invoice_number
        self.invoice_date = invoice_date
        self.due_date = due_date
