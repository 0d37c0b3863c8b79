"""Commands of business–finance integration: invoicing shipments' receivables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from domain.application import Decision, IdempotencyClaim, Outcome
from domain.commands_sales import SalesCommands
from domain.exceptions import InvalidInput, NotFound, RuleViolation
from domain.invoices import Invoice, InvoiceSeries, invoice_id, series_id
from domain.payments import Payment, payment_id
from domain.receivables import Receivable, receivable_id
from domain.values import ZERO, Meta, code, currency, money, text

MAX_SHIPMENTS_PER_INVOICE = 500


class FinanceCommands(SalesCommands):
    def invoice(self, number: str) -> Invoice:
        return self.load(Invoice, invoice_id(number), f"invoice {number!r}")

    def receivable(self, order_number: str, shipment_ref: str) -> Receivable:
        return self.load(
            Receivable,
            receivable_id(order_number, shipment_ref),
            f"receivable for shipment {shipment_ref!r} of order {order_number!r}",
        )

    def issue_invoice(
        self,
        meta: Meta,
        *,
        customer: str,
        shipments: list[dict[str, Any]],
        invoice_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Bill one or several shipments of one customer under the next number of the
        year's series; the due date follows the customer's payment terms. One save: the
        series, the invoice and every receivable it bills."""
        billed = _shipments(shipments)
        dated = meta.at.date() if invoice_date is None else invoice_date
        if not isinstance(dated, date):
            raise InvalidInput("invoice_date must be a date")

        def decide() -> Decision:
            account = self.customer_view(customer)
            owed = [self.receivable(order, ref) for order, ref in billed]
            currencies = {r.currency for r in owed}
            others = sorted({r.customer for r in owed} - {account.code})
            if others:
                raise RuleViolation(
                    f"shipments of customer {others[0]!r} cannot go on {account.code!r}'s invoice",
                    rule="invoice-customer-mismatch",
                )
            if len(currencies) > 1:
                raise RuleViolation(
                    f"one invoice bills one currency, not {', '.join(sorted(currencies))}",
                    rule="invoice-currency-mismatch",
                )
            series = self._series(f"INV-{dated.year}")
            number = series.take(dated)
            due = dated + timedelta(days=account.payment_terms_days)
            for receivable in owed:
                receivable.invoice(number, dated, due)
            invoice = Invoice(
                number, account.code, owed[0].currency,
                [{"id": str(r.id), "order_number": r.order_number,
                  "shipment_ref": r.shipment_ref, "total": r.total} for r in owed],
                _sum(r.net for r in owed), _sum(r.tax for r in owed),
                _sum(r.total for r in owed), dated, account.payment_terms_days, due, meta.at,
            )  # fmt: skip
            touched: list[Aggregate] = [series, invoice, *owed]
            return Decision(touched, invoice_result(invoice))

        return self.execute(meta, decide, idempotency)

    def payment(self, bank_ref: str) -> Payment:
        return self.load(Payment, payment_id(bank_ref), f"payment {bank_ref!r}")

    def record_payment(
        self,
        meta: Meta,
        *,
        bank_ref: str,
        payer: str,
        amount: Any,
        currency_code: str,
        value_date: date,
        remittance: str = "",
        source: str = "manual",
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Record money received; the same bank reference twice is the same payment."""
        if not isinstance(value_date, date):
            raise InvalidInput("value_date must be a date")
        ref = code(bank_ref, "bank_ref")
        received = money(amount, "amount")
        if received <= 0:
            raise InvalidInput(f"amount must be greater than zero, got {received}")
        args = (
            ref, text(payer, "payer"), received, currency(currency_code), value_date,
            text(remittance, "remittance", max_length=2000, required=False),
            code(source, "source"),
        )  # fmt: skip

        def decide() -> Decision:
            self.require_absent(payment_id(ref), f"payment {ref!r}")
            payment = Payment(*args)
            return Decision([payment], payment_result(payment))

        return self.execute(meta, decide, idempotency)

    def allocate_payment(
        self,
        meta: Meta,
        *,
        bank_ref: str,
        invoice_number: str,
        amount: Any,
        rule: str = "manual",
        effective_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Apply (part of) a payment to an invoice: both record it in one save, and neither
        may go below zero (what is unapplied, what is open)."""
        applied = money(amount, "amount")
        if applied <= 0:
            raise InvalidInput(f"amount must be greater than zero, got {applied}")
        by = code(rule, "rule")

        def decide() -> Decision:
            payment = self.payment(bank_ref)
            invoice = self.invoice(invoice_number)
            if payment.currency != invoice.currency:
                raise RuleViolation(
                    f"payment {bank_ref} is in {payment.currency}, invoice {invoice_number}"
                    f" in {invoice.currency}",
                    rule="allocation-currency-mismatch",
                )
            dated = payment.value_date if effective_date is None else effective_date
            allocation = payment.allocate(invoice.number, applied, by, dated)
            invoice.apply_payment(allocation, payment.bank_ref, applied, dated)
            result = {**payment_result(payment), "allocation_id": allocation,
                      "invoice": invoice_result(invoice)}  # fmt: skip
            return Decision([payment, invoice], result)

        return self.execute(meta, decide, idempotency)

    def unallocate_payment(
        self,
        meta: Meta,
        *,
        bank_ref: str,
        allocation_id: str,
        reason: str,
        effective_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Undo an allocation by reversing events on the payment and the invoice."""
        why = text(reason, "reason")

        def decide() -> Decision:
            payment = self.payment(bank_ref)
            dated = meta.at.date() if effective_date is None else effective_date
            allocation = payment.unallocate(allocation_id, why, dated)
            invoice = self.invoice(allocation["invoice_number"])
            invoice.reverse_payment(allocation_id, allocation["amount"], why, dated)
            result = {**payment_result(payment), "invoice": invoice_result(invoice)}
            return Decision([payment, invoice], result)

        return self.execute(meta, decide, idempotency)

    def _series(self, code_: str) -> InvoiceSeries:
        try:
            return self.load(InvoiceSeries, series_id(code_), f"invoice series {code_}")
        except NotFound:
            return self._hold(InvoiceSeries(code_))


def invoice_result(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "customer": invoice.customer,
        "currency": invoice.currency,
        "net": str(invoice.net),
        "tax": str(invoice.tax),
        "total": str(invoice.total),
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "shipments": [
            {"order_number": r["order_number"], "shipment_ref": r["shipment_ref"]}
            for r in invoice.receivables
        ],
        "applied": str(invoice.applied),
        "credited": str(invoice.credited),
        "written_off": str(invoice.written_off),
        "open": str(invoice.open_amount),
        "credit_notes": [
            {
                "number": number,
                "kind": c["kind"],
                "total": str(c["amount"]),
                "credit_note_date": c["effective_date"].isoformat(),
                "cancelled_date": _iso(c["cancelled_date"]),
            }
            for number, c in invoice.credits.items()
        ],
        "write_offs": [
            {
                "write_off_id": key,
                "amount": str(w["amount"]),
                "status": w["status"],
                "effective_date": _iso(w["effective_date"]),
            }
            for key, w in invoice.write_offs.items()
        ],
        "version": invoice.version,
    }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def payment_result(payment: Payment) -> dict[str, Any]:
    return {
        "bank_ref": payment.bank_ref,
        "payer": payment.payer,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "value_date": payment.value_date.isoformat(),
        "unapplied": str(payment.unapplied),
        "allocations": [
            {
                "allocation_id": key,
                "invoice_number": a["invoice_number"],
                "amount": str(a["amount"]),
                "rule": a["rule"],
                "effective_date": a["effective_date"].isoformat(),
                "active": a["active"],
            }
            for key, a in payment.allocations.items()
        ],
        "version": payment.version,
    }


def _sum(values: Any) -> Decimal:
    return sum(values, ZERO)


def _shipments(shipments: Any) -> list[tuple[str, str]]:
    if not isinstance(shipments, list) or not shipments:
        raise InvalidInput("an invoice bills at least one shipment")
    if len(shipments) > MAX_SHIPMENTS_PER_INVOICE:
        raise InvalidInput(f"an invoice bills at most {MAX_SHIPMENTS_PER_INVOICE} shipments")
    billed: list[tuple[str, str]] = []
    for shipment in shipments:
        if not isinstance(shipment, dict):
            raise InvalidInput("each shipment is {order_number, shipment_ref}")
        key = (
            code(shipment.get("order_number"), "order_number"),
            code(shipment.get("shipment_ref"), "shipment_ref"),
        )
        if key in billed:
            raise InvalidInput(f"shipment {key[1]} of {key[0]} is listed twice")
        billed.append(key)
    return billed
