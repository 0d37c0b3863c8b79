"""Commands on the master data: products and warehouses."""

from __future__ import annotations

from typing import Any

from domain.application import Decision, IdempotencyClaim, LedgerBase, Outcome, check_version
from domain.exceptions import InvalidInput
from domain.products import MAKE_OR_BUY, Product
from domain.values import Meta, code, currency, money, stable_id, text
from domain.warehouses import Warehouse


class CatalogCommands(LedgerBase):
    def register_product(
        self,
        meta: Meta,
        *,
        sku: str,
        name: str,
        unit: str,
        make_or_buy: str,
        standard: bool,
        list_price: Any,
        standard_cost: Any,
        currency_code: str,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Add a SKU to the product master."""
        sku = code(sku, "sku")
        if make_or_buy not in MAKE_OR_BUY:
            raise InvalidInput(f"make_or_buy must be one of {MAKE_OR_BUY}, got {make_or_buy!r}")
        args: dict[str, Any] = {
            "sku": sku,
            "name": text(name, "name"),
            "unit": text(unit, "unit", max_length=16),
            "make_or_buy": make_or_buy,
            "standard": bool(standard),
            "list_price": money(list_price, "list_price"),
            "standard_cost": money(standard_cost, "standard_cost"),
            "currency": currency(currency_code),
        }

        def decide() -> Decision:
            self.require_absent(Product.create_id(sku), f"product {sku!r}")
            product = Product(**args)
            return Decision([product], {"sku": sku, "id": str(product.id), "version": 1})

        return self.execute(meta, decide, idempotency)

    def reprice_product(
        self,
        meta: Meta,
        *,
        sku: str,
        list_price: Any,
        standard_cost: Any,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Change a product's list price and standard cost."""
        price = money(list_price, "list_price")
        cost = money(standard_cost, "standard_cost")

        def decide() -> Decision:
            product = self.load(Product, stable_id("product", sku), f"product {sku!r}")
            check_version(product, expected_version, f"product {sku!r}")
            product.reprice(price, cost)
            return Decision([product], {"sku": sku, "version": product.version})

        return self.execute(meta, decide, idempotency)

    def register_warehouse(
        self,
        meta: Meta,
        *,
        code_: str,
        name: str,
        address: str = "",
        idempotency: IdempotencyClaim | None = None,
    ) -> Outcome:
        """Add a warehouse."""
        wh = code(code_, "warehouse code")
        wh_name = text(name, "name")
        wh_address = text(address, "address", max_length=500, required=False)

        def decide() -> Decision:
            self.require_absent(Warehouse.create_id(wh), f"warehouse {wh!r}")
            warehouse = Warehouse(wh, wh_name, wh_address)
            return Decision([warehouse], {"code": wh, "id": str(warehouse.id), "version": 1})

        return self.execute(meta, decide, idempotency)
