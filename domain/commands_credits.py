"""Commands that reduce what an invoice owes other than payments: credit notes (returns,
price corrections) and write-offs, which a second person approves in an approver role."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.application import Decision, IdempotencyClaim, Outcome
from domain.commands_finance import FinanceCommands, invoice_result
from domain.credit_notes import (
    KINDS,
    RETURN,
    CreditNote,
    ReturnLine,
    billed_lines,
    credit_note_id,
    credit_tax,
    credit_totals,
    invoice_tax_rate,
    price_return,
    returned_so_far,
)
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.invoices import Invoice
from domain.values import ZERO, Meta, code, line_number, price, quantity, text

MAX_RETURN_LINES = 500
DEFAULT_APPROVER_ROLES = ("finance_manager", "manager")


class CreditCommands(FinanceCommands):
    # Who may approve or reject a write-off (settings: WRITE_OFF_APPROVER_ROLES).
    write_off_approver_roles: tuple[str, ...] = DEFAULT_APPROVER_ROLES

    def credit_note(self, number: str) -> CreditNote:
        return self.load(CreditNote, credit_note_id(number), f"credit note {number!r}")

    def issue_credit_note(
        self,
        meta: Meta,
        *,
        invoice_number: str,
        kind: str,
        reason: str,
        lines: list[dict[str, Any]] | None = None,
        amount: Any = None,
        credit_note_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Credit an invoice for goods returned (priced at its lines) or a price correction
        (a net amount, taxed at its rate) under the next number of the year's CN series.
        One save: the series, the credit note and the invoice that records it."""
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        why = text(reason, "reason", max_length=500)
        wanted = _return_lines(lines) if kind == RETURN else _no_lines(lines)
        if (amount is None) != (kind == RETURN):
            raise InvalidInput(
                "a price correction gives its net amount; a return gives lines, not an amount"
            )
        dated = meta.at.date() if credit_note_date is None else credit_note_date
        if not isinstance(dated, date):
            raise InvalidInput("credit_note_date must be a date")

        def decide() -> Decision:
            invoice = self.invoice(invoice_number)
            owed = [
                self.receivable(r["order_number"], r["shipment_ref"]) for r in invoice.receivables
            ]
            if kind == RETURN:
                returned = price_return(
                    invoice.number, billed_lines(owed), wanted, returned_so_far(invoice.credits),
                    invoice.currency,
                )  # fmt: skip
                net = sum((line["amount"] for line in returned), ZERO)
            else:
                returned, net = [], price(amount, invoice.currency, "amount")
            if net <= 0:
                raise InvalidInput(f"a credit note credits more than nothing, not {net}")
            rate = invoice_tax_rate(owed, invoice.net, invoice.tax)
            totals = credit_totals(invoice.credits, invoice.net, invoice.tax)
            tax = credit_tax(net, rate, totals, invoice.currency)
            invoice.require_not_before(dated, "a credit note", "credit-note-date")
            series = self._series(f"CN-{dated.year}")
            number = series.take(dated)
            invoice.credit(number, kind, net, tax, net + tax, dated, returned)
            note = CreditNote(
                number, invoice.number, invoice.customer, invoice.currency, kind, returned, net,
                rate, tax, net + tax, dated, why,
            )  # fmt: skip
            result = {**credit_note_result(note), "invoice": invoice_result(invoice)}
            return Decision([series, note, invoice], result)

        return self.execute(meta, decide, idempotency)

    def cancel_credit_note(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        effective_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Cancel a mistaken credit note by reversing events on it and on its invoice."""
        why = text(reason, "reason", max_length=500)

        def decide() -> Decision:
            note = self.credit_note(number)
            dated = meta.at.date() if effective_date is None else effective_date
            note.cancel(why, dated)
            invoice = self.invoice(note.invoice_number)
            invoice.reverse_credit(note.number, why, dated)
            result = {**credit_note_result(note), "invoice": invoice_result(invoice)}
            return Decision([note, invoice], result)

        return self.execute(meta, decide, idempotency)

    def request_write_off(
        self,
        meta: Meta,
        *,
        invoice_number: str,
        amount: Any,
        reason: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Ask to write off (part of) what an invoice owes; it waits for an approver."""
        why = text(reason, "reason", max_length=500)

        def decide() -> Decision:
            invoice = self.invoice(invoice_number)
            asked = price(amount, invoice.currency, "amount")
            if asked <= 0:
                raise InvalidInput(f"amount must be greater than zero, got {asked}")
            write_off_id = invoice.request_write_off(asked, why, meta.actor)
            return Decision([invoice], write_off_result(invoice, write_off_id))

        return self.execute(meta, decide, idempotency)

    def approve_write_off(
        self,
        meta: Meta,
        *,
        write_off_id: str,
        effective_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Approve a pending write-off, in an approver role and not as its requester: the
        invoice stops owing the amount from the approval date (or the date given)."""
        invoice_number = _invoice_of(write_off_id)

        def decide() -> Decision:
            invoice = self.invoice(invoice_number)
            self._require_approver(meta, write_off_id, "approve")
            dated = meta.at.date() if effective_date is None else effective_date
            invoice.approve_write_off(write_off_id, meta.actor, dated)
            return Decision([invoice], write_off_result(invoice, write_off_id))

        return self.execute(meta, decide, idempotency)

    def reject_write_off(
        self,
        meta: Meta,
        *,
        write_off_id: str,
        reason: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Turn a pending write-off down, in an approver role and not as its requester."""
        why = text(reason, "reason", max_length=500)
        invoice_number = _invoice_of(write_off_id)

        def decide() -> Decision:
            invoice = self.invoice(invoice_number)
            self._require_approver(meta, write_off_id, "reject")
            invoice.reject_write_off(write_off_id, meta.actor, why)
            return Decision([invoice], write_off_result(invoice, write_off_id))

        return self.execute(meta, decide, idempotency)

    def _require_approver(self, meta: Meta, write_off_id: str, verb: str) -> None:
        if meta.role not in self.write_off_approver_roles:
            raise RuleViolation(
                f"only {' or '.join(self.write_off_approver_roles)} may {verb} write-off"
                f" {write_off_id}; this request acts as {meta.role or 'no role'}",
                rule="write-off-role",
            )


def credit_note_result(note: CreditNote) -> dict[str, Any]:
    return {
        "number": note.number,
        "invoice_number": note.invoice_number,
        "customer": note.customer,
        "currency": note.currency,
        "kind": note.kind,
        "lines": [{key: _text(value) for key, value in line.items()} for line in note.lines],
        "net": str(note.net),
        "tax_rate": str(note.tax_rate),
        "tax": str(note.tax),
        "total": str(note.total),
        "credit_note_date": note.credit_note_date.isoformat(),
        "reason": note.reason,
        "status": note.status,
        "cancelled_date": None if note.cancelled_date is None else note.cancelled_date.isoformat(),
        "version": note.version,
    }


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def write_off_result(invoice: Invoice, write_off_id: str) -> dict[str, Any]:
    request = invoice.write_offs[write_off_id]
    dated = request["effective_date"]
    return {
        "write_off_id": write_off_id,
        "invoice_number": invoice.number,
        "amount": str(request["amount"]),
        "reason": request["reason"],
        "status": request["status"],
        "requested_by": request["requested_by"],
        "decided_by": request["decided_by"],
        "effective_date": None if dated is None else dated.isoformat(),
        "invoice": invoice_result(invoice),
        "version": invoice.version,
    }


def _invoice_of(write_off_id: str) -> str:
    """A write-off's id is its invoice's number and its sequence: INV-2026-000001-W2."""
    number, sep, sequence = code(write_off_id, "write_off_id").rpartition("-W")
    if not sep or not number or not sequence.isdigit():
        raise NotFound(f"write-off {write_off_id!r} not found (ids look like INV-2026-000001-W1)")
    return number


def _no_lines(lines: Any) -> list[ReturnLine]:
    if lines:
        raise InvalidInput("a price correction has no lines: give its net amount")
    return []


def _return_lines(lines: Any) -> list[ReturnLine]:
    if not isinstance(lines, list) or not lines:
        raise InvalidInput("a return lists at least one line")
    if len(lines) > MAX_RETURN_LINES:
        raise InvalidInput(f"a credit note returns at most {MAX_RETURN_LINES} lines")
    wanted = []
    for line in lines:
        if not isinstance(line, dict):
            raise InvalidInput("each returned line is {order_number, line_no or sku, quantity}")
        wanted.append(
            ReturnLine(
                _optional(line.get("order_number"), "order_number"),
                None if line.get("line_no") is None else line_number(line["line_no"]),
                _optional(line.get("sku"), "sku"),
                quantity(line.get("quantity"), "returned quantity"),
            )
        )
    return wanted


def _optional(value: Any, what: str) -> str | None:
    return None if value is None else code(value, what)
