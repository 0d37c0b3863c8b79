"""The OrderLedger application: every command, one method each, grouped by concept."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from domain.commands_catalog import CatalogCommands
from domain.commands_credit import CreditCommands
from domain.commands_finance import FinanceCommands
from domain.commands_production import ProductionCommands
from domain.commands_purchasing import PurchasingCommands
from domain.commands_stock import StockCommands


class Ledger(
    CatalogCommands, PurchasingCommands, ProductionCommands, FinanceCommands, CreditCommands,
    StockCommands,
):  # fmt: skip
    """Orders, stock and (later) receivables as event-sourced aggregates in one log."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        receipt_tolerance: Decimal | None = None,
        tax_rate: Decimal | None = None,
    ) -> None:
        if receipt_tolerance is not None:
            self.receipt_tolerance = receipt_tolerance
        if tax_rate is not None:
            self.tax_rate = tax_rate
        super().__init__(env)
