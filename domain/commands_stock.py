"""Commands that move stock: reservations, shipment issues, production, counts, transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.application import Decision, IdempotencyClaim, LedgerBase, Outcome, check_version
from domain.exceptions import InvalidInput
from domain.stock_items import StockItem
from domain.values import Meta, code, new_ref, non_negative_quantity, quantity, text


def _stock_result(item: StockItem, **extra: Any) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "warehouse": item.warehouse,
        "version": item.version,
        "physical": str(item.physical),
        "in_transit": str(item.in_transit),
        "locked": str(item.locked),
        "available": str(item.available),
        **extra,
    }


class StockCommands(LedgerBase):
    def reserve(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        order_ref: str,
        quantity_: Any,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Lock stock for an order; never beyond what is available."""
        qty, ref, when = (
            quantity(quantity_),
            code(order_ref, "order_ref"),
            meta.effective(effective_at),
        )

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse)
            item.reserve(ref, qty, when)
            return Decision([item], _stock_result(item, order_ref=ref, reserved=str(qty)))

        return self.execute(meta, decide, idempotency)

    def release(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        order_ref: str,
        quantity_: Any | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Give back some or all of an order's reservation."""
        qty = None if quantity_ is None else quantity(quantity_)
        ref, when = code(order_ref, "order_ref"), meta.effective(effective_at)

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse, open_if_missing=False)
            released = item.release(ref, qty, when)
            return Decision([item], _stock_result(item, order_ref=ref, released=str(released)))

        return self.execute(meta, decide, idempotency)

    def issue_for_shipment(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        order_ref: str,
        quantity_: Any,
        shipment_ref: str,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Ship goods out of an order's reservation."""
        qty, ref, when = (
            quantity(quantity_),
            code(order_ref, "order_ref"),
            meta.effective(effective_at),
        )
        shipment = code(shipment_ref, "shipment_ref")

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse, open_if_missing=False)
            item.issue_for_shipment(ref, qty, shipment, when)
            return Decision([item], _stock_result(item, order_ref=ref, shipment_ref=shipment))

        return self.execute(meta, decide, idempotency)

    def issue_material(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        production_ref: str,
        quantity_: Any,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Issue components to a production order."""
        qty, when = quantity(quantity_), meta.effective(effective_at)
        ref = code(production_ref, "production_ref")

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse, open_if_missing=False)
            item.issue_material(ref, qty, when)
            return Decision([item], _stock_result(item, production_ref=ref))

        return self.execute(meta, decide, idempotency)

    def receive_finished_goods(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        production_ref: str,
        quantity_: Any,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Put finished goods from a production order into stock."""
        qty, when = quantity(quantity_), meta.effective(effective_at)
        ref = code(production_ref, "production_ref")

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse)
            item.receive_finished_goods(ref, qty, when)
            return Decision([item], _stock_result(item, production_ref=ref))

        return self.execute(meta, decide, idempotency)

    def count_stock(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        counted: Any,
        reason: str,
        count_ref: str | None = None,
        expected_version: int | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Record a physical count; the difference adjusts physical stock."""
        qty, when = non_negative_quantity(counted, "counted"), meta.effective(effective_at)
        why = text(reason, "reason")
        ref = code(count_ref, "count_ref") if count_ref else new_ref("CNT")

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse)
            check_version(item, expected_version, f"stock item {sku}@{warehouse}")
            difference = item.count(ref, qty, why, when)
            return Decision([item], _stock_result(item, count_ref=ref, difference=str(difference)))

        return self.execute(meta, decide, idempotency)

    def transfer(
        self,
        meta: Meta,
        *,
        sku: str,
        from_warehouse: str,
        to_warehouse: str,
        quantity_: Any,
        transfer_ref: str | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Send stock to another warehouse: out of physical here, in transit there, atomically."""
        if from_warehouse == to_warehouse:
            raise InvalidInput("a transfer needs two different warehouses")
        qty, when = quantity(quantity_), meta.effective(effective_at)
        ref = code(transfer_ref, "transfer_ref") if transfer_ref else new_ref("TRF")

        def decide() -> Decision:
            source = self.stock_item(sku, from_warehouse, open_if_missing=False)
            target = self.stock_item(sku, to_warehouse)
            source.transfer_out(ref, qty, to_warehouse, when)
            target.expect_transfer(ref, qty, from_warehouse, when)
            result = {
                "transfer_ref": ref,
                "sku": sku,
                "quantity": str(qty),
                "from": _stock_result(source),
                "to": _stock_result(target),
            }
            return Decision([source, target], result)

        return self.execute(meta, decide, idempotency)

    def receive_transfer(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        transfer_ref: str,
        quantity_: Any | None = None,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Land (part of) a transfer in the receiving warehouse."""
        qty = None if quantity_ is None else quantity(quantity_)
        ref, when = code(transfer_ref, "transfer_ref"), meta.effective(effective_at)

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse, open_if_missing=False)
            received = item.transfer_in(ref, qty, when)
            return Decision([item], _stock_result(item, transfer_ref=ref, received=str(received)))

        return self.execute(meta, decide, idempotency)

    def set_safety_stock(
        self,
        meta: Meta,
        *,
        sku: str,
        warehouse: str,
        level: Any,
        effective_at: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Set the level below which projected stock raises an alert and a requisition."""
        qty, when = non_negative_quantity(level, "level"), meta.effective(effective_at)

        def decide() -> Decision:
            item = self.stock_item(sku, warehouse)
            item.set_safety_stock(qty, when)
            return Decision([item], _stock_result(item, safety_stock=str(qty)))

        return self.execute(meta, decide, idempotency)
