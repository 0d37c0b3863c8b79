"""Commands on purchase orders and purchase requisitions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.application import Decision, IdempotencyClaim, LedgerBase, Outcome, check_version
from domain.exceptions import InvalidInput
from domain.purchase_orders import PurchaseOrder, purchase_order_id
from domain.requisitions import PurchaseRequisition, requisition_id, requisition_number
from domain.stock_items import StockItem
from domain.values import (
    Meta,
    aware,
    code,
    currency,
    line_number,
    money,
    new_ref,
    quantity,
    text,
)

MAX_LINES = 500


class PurchasingCommands(LedgerBase):
    receipt_tolerance = Decimal("0")

    def purchase_order(self, number: str) -> PurchaseOrder:
        return self.load(PurchaseOrder, purchase_order_id(number), f"purchase order {number!r}")

    def create_purchase_order(
        self,
        meta: Meta,
        *,
        supplier: str,
        warehouse: str,
        lines: list[dict[str, Any]],
        currency_code: str,
        number: str | None = None,
        receipt_tolerance: Any | None = None,
        expected_at: datetime | None = None,
        requisition_ref: str | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Draft a purchase order to a supplier for one warehouse."""
        po_number = code(number, "number") if number else new_ref("PO")
        clean_lines = _clean_lines(lines)
        tolerance = (
            self.receipt_tolerance if receipt_tolerance is None else _tolerance(receipt_tolerance)
        )
        args: dict[str, Any] = {
            "number": po_number,
            "supplier": text(supplier, "supplier"),
            "warehouse": warehouse,
            "lines": clean_lines,
            "currency": currency(currency_code),
            "receipt_tolerance": tolerance,
            "expected_at": None if expected_at is None else aware(expected_at, "expected_at"),
            "requisition_ref": requisition_ref,
        }

        def decide() -> Decision:
            self.require_absent(purchase_order_id(po_number), f"purchase order {po_number!r}")
            self.warehouse(warehouse)
            for sku in {line["sku"] for line in clean_lines}:
                self.product(sku)
            order = PurchaseOrder(**args)
            return Decision([order], {"number": po_number, "status": order.status, "version": 1})

        return self.execute(meta, decide, idempotency)

    def approve_purchase_order(
        self,
        meta: Meta,
        *,
        number: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Approve: every line's quantity goes in transit, in the same atomic save."""
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.purchase_order(number)
            check_version(order, expected_version, f"purchase order {number!r}")
            order.approve(when)
            items: dict[str, StockItem] = {}
            for line in order.lines:
                item = items.get(line["sku"]) or self.stock_item(line["sku"], order.warehouse)
                items[line["sku"]] = item
                item.expect_inbound(order.number, Decimal(line["quantity"]), when)
            return Decision([order, *items.values()], _po_result(order))

        return self.execute(meta, decide, idempotency)

    def receive_purchase_order(
        self,
        meta: Meta,
        *,
        number: str,
        lines: dict[int, Any],
        receipt_ref: str | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Record a goods receipt: quantities move from in transit to physical."""
        if not lines:
            raise InvalidInput("a receipt needs at least one line")
        quantities = _receipt_quantities(lines)
        ref = code(receipt_ref, "receipt_ref") if receipt_ref else new_ref("GRN")
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.purchase_order(number)
            check_version(order, expected_version, f"purchase order {number!r}")
            order.receive(ref, quantities, when)
            per_sku: dict[str, Decimal] = {}
            for line_no, qty in quantities.items():
                sku = order.line(line_no)["sku"]
                per_sku[sku] = per_sku.get(sku, Decimal(0)) + qty
            items = [self.stock_item(sku, order.warehouse) for sku in per_sku]
            for item in items:
                item.receive(order.number, per_sku[item.sku], when)
            return Decision([order, *items], {**_po_result(order), "receipt_ref": ref})

        return self.execute(meta, decide, idempotency)

    def cancel_purchase_order(
        self,
        meta: Meta,
        *,
        number: str,
        reason: str,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Cancel the order, or the unreceived rest; its in-transit quantity is withdrawn."""
        why = text(reason, "reason")
        when = meta.effective(effective_at)

        def decide() -> Decision:
            order = self.purchase_order(number)
            check_version(order, expected_version, f"purchase order {number!r}")
            was_approved = order.status != "draft"
            order.cancel(why, when)
            items = []
            if was_approved:
                for sku in sorted({line["sku"] for line in order.lines}):
                    item = self.stock_item(sku, order.warehouse)
                    if item.cancel_inbound(order.number, when) > 0:
                        items.append(item)
            return Decision([order, *items], _po_result(order))

        return self.execute(meta, decide, idempotency)

    def raise_requisition(
        self,
        meta: Meta,
        *,
        stock_item: UUID,
        trigger_position: int,
        sku: str,
        warehouse: str,
        quantity_: Decimal,
        reason: str,
    ) -> Outcome:
        """Request a purchase for a safety-stock gap; raising the same gap twice is a no-op."""
        req_id = requisition_id(stock_item, trigger_position)

        def decide() -> Decision:
            if self.exists(req_id):
                return Decision([], {"id": str(req_id), "created": False})
            number = requisition_number(req_id)
            requisition = PurchaseRequisition(
                stock_item, trigger_position, number, sku, warehouse, quantity_, reason
            )
            return Decision([requisition], {"id": str(req_id), "number": number, "created": True})

        return self.execute(meta, decide)

    def close_requisition(
        self, meta: Meta, *, requisition: UUID, purchase_order: str | None, reason: str
    ) -> Outcome:
        """Close a requisition: converted into a purchase order, or no longer needed."""

        def decide() -> Decision:
            req = self.load(PurchaseRequisition, requisition, "requisition")
            req.close(purchase_order, text(reason, "reason"))
            return Decision([req], {"id": str(requisition), "status": req.status})

        return self.execute(meta, decide)


def _po_result(order: PurchaseOrder) -> dict[str, Any]:
    return {"number": order.number, "status": order.status, "version": order.version}


def _receipt_quantities(lines: dict[Any, Any]) -> dict[int, Decimal]:
    quantities: dict[int, Decimal] = {}
    for raw_no, qty in lines.items():
        no = line_number(raw_no)
        if no in quantities:
            raise InvalidInput(f"line {no} appears twice in one receipt")
        quantities[no] = quantity(qty, f"line {no} quantity")
    return quantities


def _tolerance(value: Any) -> Decimal:
    tolerance = money(value, "receipt_tolerance")
    if tolerance > 1:
        raise InvalidInput("receipt_tolerance is a fraction between 0 and 1 (0.05 = 5%)")
    return tolerance


def _clean_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not lines:
        raise InvalidInput("a purchase order needs at least one line")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a purchase order has at most {MAX_LINES} lines")
    return [
        {
            "line_no": no,
            "sku": code(line.get("sku"), f"line {no} sku"),
            "quantity": quantity(line.get("quantity"), f"line {no} quantity"),
            "unit_cost": money(line.get("unit_cost", "0"), f"line {no} unit_cost"),
        }
        for no, line in enumerate(lines, start=1)
    ]
