"""Commands of the order centre: customers and sales orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any

from domain.application import Decision, IdempotencyClaim, LedgerBase, Outcome, check_version
from domain.customers import ACTIVE, Customer, customer_id
from domain.exceptions import InvalidInput, RuleViolation
from domain.sales_orders import (
    APPROVED,
    SHIPPABLE,
    ExternalReference,
    SalesOrder,
    external_reference_id,
    sales_order_id,
)
from domain.stock_items import StockItem
from domain.values import (
    MAX_AMOUNT,
    ZERO,
    Meta,
    aware,
    code,
    currency,
    fraction,
    line_number,
    money,
    new_ref,
    price,
    quantity,
    text,
)

MAX_LINES = 500
REQUIREMENTS = ("packaging", "craft", "carrier", "notes")


class SalesCommands(LedgerBase):
    def customer(self, code_: str) -> Customer:
        return self.load(Customer, customer_id(code_), f"customer {code_!r}")

    def sales_order(self, number: str) -> SalesOrder:
        return self.load(SalesOrder, sales_order_id(number), f"sales order {number!r}")

    def register_customer(
        self,
        meta: Meta,
        *,
        code_: str,
        name: str,
        contacts: list[dict[str, Any]],
        billing_address: str,
        shipping_address: str,
        region: str,
        payment_terms_days: int,
        credit_limit: Any,
        currency_code: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Open a customer account."""
        args: dict[str, Any] = {
            "code": code(code_, "customer code"),
            "name": text(name, "name"),
            "contacts": [_contact(c) for c in contacts],
            "billing_address": text(billing_address, "billing_address", max_length=500),
            "shipping_address": text(shipping_address, "shipping_address", max_length=500),
            "region": text(region, "region", max_length=64),
            "payment_terms_days": _days(payment_terms_days),
            "credit_limit": money(credit_limit, "credit_limit"),
            "currency": currency(currency_code),
        }

        def decide() -> Decision:
            self.require_absent(customer_id(args["code"]), f"customer {args['code']!r}")
            customer = Customer(**args)
            return Decision([customer], {"code": customer.code, "version": 1})

        return self.execute(meta, decide, idempotency)

    def set_customer_status(
        self,
        meta: Meta,
        *,
        code_: str,
        blocked: bool,
        reason: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Block a customer (no new orders) or lift the block, with a reason."""
        why = text(reason, "reason")

        def decide() -> Decision:
            customer = self.customer(code_)
            if blocked:
                customer.block(why)
            else:
                customer.unblock(why)
            result = {"code": customer.code, "status": customer.status, "version": customer.version}
            return Decision([customer], result)

        return self.execute(meta, decide, idempotency)

    def create_sales_order(
        self,
        meta: Meta,
        *,
        customer: str,
        warehouse: str,
        lines: list[dict[str, Any]],
        currency_code: str,
        salesperson: str,
        region: str | None = None,
        channel: str = "api",
        external_ref: str | None = None,
        number: str | None = None,
        requirements: dict[str, str] | None = None,
        requested_delivery: date | None = None,
        promised_date: date | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Take an order; a channel's external reference taken twice returns the first order."""
        order_number = code(number, "number") if number else new_ref("SO")
        money_code = currency(currency_code)
        clean_lines = _lines(lines, money_code)
        channel_code = code(channel, "channel")
        reference = code(external_ref, "external_ref") if external_ref else None

        def decide() -> Decision:
            if reference and self.exists(external_reference_id(channel_code, reference)):
                return Decision([], self._first_order(channel_code, reference))
            self.require_absent(sales_order_id(order_number), f"sales order {order_number!r}")
            account = self.customer(customer)
            if account.status != ACTIVE:
                raise RuleViolation(
                    f"customer {customer!r} is {account.status}", rule="customer-not-active"
                )
            self.warehouse(warehouse)
            for sku in {line["sku"] for line in clean_lines}:
                self.product(sku)
            order = SalesOrder(
                order_number, customer, warehouse, clean_lines, money_code,
                _requirements(requirements or {}), requested_delivery, promised_date,
                text(salesperson, "salesperson", max_length=64),
                text(region if region is not None else account.region, "region", max_length=64),
                channel_code, reference,
            )  # fmt: skip
            claimed = (
                [ExternalReference(channel_code, reference, order_number)] if reference else []
            )
            return Decision([order, *claimed], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def _first_order(self, channel: str, reference: str) -> dict[str, Any]:
        claim = self.load(
            ExternalReference, external_reference_id(channel, reference), "external reference"
        )
        first = self.sales_order(claim.order_number)
        return {**_order_result(first), "duplicate_of_external_ref": reference}

    def amend_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        lines: list[dict[str, Any]] | None = None,
        requested_delivery: date | None = None,
        promised_date: date | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Change lines or dates before shipment; an approved order goes back for approval."""
        when = meta.at if effective_at is None else aware(effective_at)
        if lines is None and requested_delivery is None and promised_date is None:
            raise InvalidInput("an amendment changes lines, requested_delivery or promised_date")

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            new_lines = None if lines is None else _lines(lines, order.currency)
            for sku in {line["sku"] for line in new_lines or []}:
                self.product(sku)
            was_approved = order.status == APPROVED
            items = self._release_all(order, when) if was_approved else []
            order.amend(new_lines, requested_delivery, promised_date, when)
            return Decision([order, *items], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def approve_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Approve: every line is reserved in full or recorded short, in one atomic save."""
        when = meta.at if effective_at is None else aware(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            items: dict[str, StockItem] = {}
            reserved: dict[int, Decimal] = {}
            short: dict[int, Decimal] = {}
            order.require_status({"created"}, "approve")
            for line in order.lines:
                sku, qty = line["sku"], Decimal(line["quantity"])
                item = items.get(sku) or self.stock_item(sku, order.warehouse)
                items[sku] = item
                if qty <= item.available:
                    item.reserve(order.number, qty, when)
                    reserved[line["line_no"]] = qty
                else:  # routed to production or purchasing, never silently dropped
                    short[line["line_no"]] = qty
            order.approve(reserved, short, when)
            touched = [item for item in items.values() if item.pending_events]
            return Decision([order, *touched], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def cancel_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Cancel before shipment: every reservation is released in the same save."""
        why = text(reason, "reason")
        when = meta.at if effective_at is None else aware(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            items = self._release_all(order, when) if order.status == APPROVED else []
            order.cancel(why, when)
            return Decision([order, *items], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def reserve_shortages(
        self,
        meta: Meta,
        *,
        number: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Reserve short lines for which stock is available now, in one atomic save."""
        when = meta.at if effective_at is None else aware(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            order.require_status(SHIPPABLE, "reserve stock for")
            items: dict[str, StockItem] = {}
            reserved: dict[int, Decimal] = {}
            # In line order, as at approval ("10" sorts before "2" as text).
            for key, qty in sorted(order.short.items(), key=lambda kv: int(kv[0])):
                sku = order.line(int(key))["sku"]
                item = items.get(sku) or self.stock_item(sku, order.warehouse)
                items[sku] = item
                if qty <= item.available:
                    item.reserve(order.number, qty, when)
                    reserved[int(key)] = qty
            if not reserved:
                raise RuleViolation(
                    f"no short line of {number} can be covered from stock yet",
                    rule="shortage-not-covered",
                )
            order.reserve_shortages(reserved, when)
            touched = [item for item in items.values() if item.pending_events]
            return Decision([order, *touched], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def ship_sales_order(
        self,
        meta: Meta,
        *,
        number: str,
        lines: dict[Any, Any],
        carrier: str,
        tracking_number: str,
        shipment_ref: str | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Ship (part of) an order: stock leaves out of its reservation, in the same save."""
        if not lines:
            raise InvalidInput("a shipment needs at least one line")
        quantities: dict[int, Decimal] = {}
        for no, qty in lines.items():
            if line_number(no) in quantities:
                raise InvalidInput(f"line {no} appears twice in one shipment")
            quantities[line_number(no)] = quantity(qty, f"line {no} quantity")
        ref = code(shipment_ref, "shipment_ref") if shipment_ref else new_ref("SHP")
        who = text(carrier, "carrier", max_length=64)
        tracking = text(tracking_number, "tracking_number", max_length=64)
        when = meta.at if effective_at is None else aware(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            check_version(order, expected_version, f"sales order {number!r}")
            order.ship(ref, quantities, who, tracking, when)
            per_sku: dict[str, Decimal] = {}
            for line_no, qty in quantities.items():
                sku = order.line(line_no)["sku"]
                per_sku[sku] = per_sku.get(sku, ZERO) + qty
            items = [
                self.stock_item(sku, order.warehouse, open_if_missing=False) for sku in per_sku
            ]
            for item in items:
                item.issue_for_shipment(order.number, per_sku[item.sku], ref, when)
            result = {**_order_result(order), "shipment_ref": ref, "tracking_number": tracking}
            return Decision([order, *items], result)

        return self.execute(meta, decide, idempotency)

    def confirm_delivery(
        self,
        meta: Meta,
        *,
        number: str,
        shipment_ref: str,
        signed_by: str,
        proof_ref: str = "",
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Record the customer's sign-off for a shipment."""
        signer = text(signed_by, "signed_by")
        proof = text(proof_ref, "proof_ref", required=False)
        when = meta.at if effective_at is None else aware(effective_at)

        def decide() -> Decision:
            order = self.sales_order(number)
            order.confirm_delivery(shipment_ref, signer, proof, when)
            return Decision([order], _order_result(order))

        return self.execute(meta, decide, idempotency)

    def _release_all(self, order: SalesOrder, when: datetime) -> list[StockItem]:
        items = []
        for sku in order.skus:
            item = self.stock_item(sku, order.warehouse, open_if_missing=False)
            if item.reservations.get(order.number, ZERO) > 0:
                item.release(order.number, None, when)
                items.append(item)
        return items


def _order_result(order: SalesOrder) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "total": str(order.total),
        "reserved": {k: str(v) for k, v in order.reserved.items()},
        "short": {k: str(v) for k, v in order.short.items()},
        "shipped": {k: str(v) for k, v in order.shipped.items()},
    }


def _lines(lines: list[dict[str, Any]], currency_code: str) -> list[dict[str, Any]]:
    if not lines:
        raise InvalidInput("a sales order needs at least one line")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a sales order has at most {MAX_LINES} lines")
    clean = [
        {
            "line_no": no,
            "sku": code(line.get("sku"), f"line {no} sku"),
            "quantity": quantity(line.get("quantity"), f"line {no} quantity"),
            "unit_price": price(line.get("unit_price"), currency_code, f"line {no} unit_price"),
            "discount": fraction(line.get("discount", "0"), f"line {no} discount"),
        }
        for no, line in enumerate(lines, start=1)
    ]
    _check_amounts(clean)
    return clean


def _check_amounts(lines: list[dict[str, Any]]) -> None:
    """Each field has its own bound; their product must stay an amount the ledger can hold."""
    with localcontext() as exact:
        exact.prec = 60  # 10^12 units × 10^15 per unit fits without rounding
        total = ZERO
        for line in lines:
            amount = line["quantity"] * line["unit_price"]
            if amount > MAX_AMOUNT:
                raise InvalidInput(f"line {line['line_no']} is worth more than {MAX_AMOUNT}")
            total += amount
        if total > MAX_AMOUNT:
            raise InvalidInput(f"the order is worth more than {MAX_AMOUNT}")


def _requirements(given: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(REQUIREMENTS)
    if unknown:
        raise InvalidInput(f"unknown requirement {sorted(unknown)[0]!r}; known: {REQUIREMENTS}")
    return {key: text(value, key, max_length=2000) for key, value in given.items()}


def _contact(contact: dict[str, Any]) -> dict[str, str]:
    return {
        "name": text(contact.get("name"), "contact name"),
        "email": text(contact.get("email", ""), "contact email", required=False),
        "phone": text(contact.get("phone", ""), "contact phone", max_length=40, required=False),
    }


def _days(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
        raise InvalidInput(
            f"payment_terms_days must be a whole number from 0 to 365, got {value!r}"
        )
    return value
