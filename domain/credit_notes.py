"""Credit notes: money taken off one invoice, for goods returned or a price corrected.

A credit note numbers from its own gapless yearly series (CN-2026-000001, …) and is recorded
on its invoice in the same save, so the invoice's open amount and the note can never
disagree. It is never edited: a mistaken one is cancelled by reversing events on both.

Returns are priced at the invoice's own line prices (quantity × unit price less discount,
rounded half-up per line); tax is charged at the invoice's rate on the credited net. Neither
may give back more than the invoice charged: the return that completes a line credits
exactly what is left of that line, and the credit that completes the invoice's net credits
exactly what is left of its tax.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import InvalidInput, RuleViolation
from domain.receivables import Receivable, tax_on
from domain.sales_orders import line_amount
from domain.values import ZERO, stable_id

RETURN, PRICE_CORRECTION = "return", "price_correction"
KINDS = (RETURN, PRICE_CORRECTION)
ISSUED, CANCELLED = "issued", "cancelled"

LineKey = tuple[str, int]  # (order number, order line number)


def credit_note_id(number: str) -> UUID:
    return stable_id("credit-note", number)


class CreditNote(Aggregate):
    """A credit note against one invoice: its lines (for a return), net, tax and total."""

    @staticmethod
    def create_id(number: str) -> UUID:
        return credit_note_id(number)

    @event("Issued")
    def __init__(
        self,
        number: str,
        invoice_number: str,
        customer: str,
        currency: str,
        kind: str,
        lines: list[dict[str, Any]],
        net: Decimal,
        tax_rate: Decimal,
        tax: Decimal,
        total: Decimal,
        credit_note_date: date,
        reason: str,
    ) -> None:
        self.number = number
        self.invoice_number = invoice_number
        self.customer = customer
        self.currency = currency
        self.kind = kind
        self.lines = [dict(line) for line in lines]
        self.net = net
        self.tax_rate = tax_rate
        self.tax = tax
        self.total = total
        self.credit_note_date = credit_note_date
        self.reason = reason
        self.status = ISSUED
        self.cancelled_date: date | None = None
        self.cancel_reason: str | None = None

    def cancel(self, reason: str, effective_date: date) -> None:
        """Cancel a mistaken credit note: the invoice owes its total again from
        `effective_date` (no earlier than the note's own date)."""
        if self.status == CANCELLED:
            raise RuleViolation(
                f"credit note {self.number} is already cancelled", rule="credit-note-cancelled"
            )
        if effective_date < self.credit_note_date:
            raise RuleViolation(
                f"credit note {self.number} is dated {self.credit_note_date.isoformat()}: it"
                f" cannot be cancelled as of {effective_date.isoformat()}",
                rule="credit-note-date",
            )
        self._cancelled(reason, effective_date)

    @event("Cancelled")
    def _cancelled(self, reason: str, effective_date: date) -> None:
        self.status = CANCELLED
        self.cancelled_date = effective_date
        self.cancel_reason = reason


@dataclass(frozen=True)
class ReturnLine:
    """A line to return as asked: which order line (any part may be left out when the
    invoice leaves no doubt) and how many."""

    order_number: str | None
    line_no: int | None
    sku: str | None
    quantity: Decimal


@dataclass
class Billed:
    """One order line as the invoice billed it, summed over its shipments."""

    sku: str
    unit_price: Decimal
    discount: Decimal
    quantity: Decimal
    amount: Decimal


def billed_lines(receivables: list[Receivable]) -> dict[LineKey, Billed]:
    """What an invoice billed per order line, from the receivables it bills."""
    billed: dict[LineKey, Billed] = {}
    for receivable in receivables:
        for line in receivable.lines:
            key = (receivable.order_number, int(line["line_no"]))
            seen = billed.get(key)
            if seen is None:
                billed[key] = Billed(
                    line["sku"], Decimal(line["unit_price"]), Decimal(line["discount"]),
                    Decimal(line["quantity"]), Decimal(line["amount"]),
                )  # fmt: skip
            else:
                seen.quantity += Decimal(line["quantity"])
                seen.amount += Decimal(line["amount"])
    return billed


def returned_so_far(credits: dict[str, dict[str, Any]]) -> dict[LineKey, tuple[Decimal, Decimal]]:
    """Quantity and amount already returned per order line, by credit notes still in force."""
    done: dict[LineKey, tuple[Decimal, Decimal]] = {}
    for credit in credits.values():
        if credit["cancelled_date"] is not None:
            continue
        for line in credit["returned"]:
            key = (line["order_number"], int(line["line_no"]))
            qty, amount = done.get(key, (ZERO, ZERO))
            done[key] = (qty + Decimal(line["quantity"]), amount + Decimal(line["amount"]))
    return done


def price_return(
    invoice_number: str,
    billed: dict[LineKey, Billed],
    wanted: list[ReturnLine],
    before: dict[LineKey, tuple[Decimal, Decimal]],
    currency: str,
) -> list[dict[str, Any]]:
    """The credit note's lines: each at the line's price, never more than was shipped on the
    invoice (less earlier returns), never more money than is left of the line."""
    priced: list[dict[str, Any]] = []
    for want in wanted:
        key = _resolve(invoice_number, billed, want)
        if any((p["order_number"], p["line_no"]) == key for p in priced):
            raise InvalidInput(f"line {key[1]} of {key[0]} is listed twice")
        line = billed[key]
        qty_before, amount_before = before.get(key, (ZERO, ZERO))
        if qty_before + want.quantity > line.quantity:
            raise RuleViolation(
                f"invoice {invoice_number} billed {line.quantity} of line {key[1]} of {key[0]}"
                f" ({line.sku}), {qty_before} already returned: {want.quantity} more is too many",
                rule="return-over-shipped",
            )
        left = line.amount - amount_before
        amount = min(left, _at_price(line, want.quantity, currency))
        if qty_before + want.quantity == line.quantity:
            amount = left  # the last of the line: exactly what is left, no rounding residue
        priced.append({
            "order_number": key[0], "line_no": key[1], "sku": line.sku,
            "quantity": want.quantity, "unit_price": line.unit_price,
            "discount": line.discount, "amount": amount,
        })  # fmt: skip
    return priced


def _at_price(line: Billed, quantity: Decimal, currency: str) -> Decimal:
    priced = {"quantity": quantity, "unit_price": line.unit_price, "discount": line.discount}
    return line_amount(priced, currency)


def _resolve(invoice_number: str, billed: dict[LineKey, Billed], want: ReturnLine) -> LineKey:
    if want.line_no is None and want.sku is None:
        raise InvalidInput("a returned line names its line_no or its sku")
    found = [
        key for key, line in billed.items()
        if want.order_number in (None, key[0]) and want.line_no in (None, key[1])
        and want.sku in (None, line.sku)
    ]  # fmt: skip
    named = ", ".join(f"{k}: {v}" for k, v in vars(want).items() if k != "quantity" and v)
    if not found:
        raise RuleViolation(
            f"invoice {invoice_number} bills no line with {named}", rule="return-not-invoiced"
        )
    if len(found) > 1:
        raise InvalidInput(
            f"invoice {invoice_number} bills several lines with {named}: name the"
            " order_number and line_no"
        )
    return found[0]


def invoice_tax_rate(receivables: list[Receivable], net: Decimal, tax: Decimal) -> Decimal:
    """The rate the invoice charged: its receivables' rate, or (when their rates differ) its
    tax over its net."""
    rates = {r.tax_rate for r in receivables}
    if len(rates) == 1:
        return rates.pop()
    return tax / net if net else ZERO


@dataclass(frozen=True)
class InvoiceTotals:
    """What the invoice charged, and what credit notes in force already gave back."""

    net: Decimal
    tax: Decimal
    credited_net: Decimal
    credited_tax: Decimal


def credit_tax(net: Decimal, rate: Decimal, totals: InvoiceTotals, currency: str) -> Decimal:
    """Tax on a credited net at the invoice's rate, rounded half-up; never more than is left
    of the invoice's tax, and all of it once the invoice's whole net is credited."""
    left = max(ZERO, totals.tax - totals.credited_tax)
    if totals.credited_net + net >= totals.net:
        return left
    return min(left, tax_on(net, rate, currency))


def credit_totals(credits: dict[str, dict[str, Any]], net: Decimal, tax: Decimal) -> InvoiceTotals:
    live = [c for c in credits.values() if c["cancelled_date"] is None]
    return InvoiceTotals(
        net, tax, sum((c["net"] for c in live), ZERO), sum((c["tax"] for c in live), ZERO)
    )
