"""The OrderLedger application: every command, one method each, grouped by concept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from domain.commands_access import AccessCommands
from domain.commands_catalog import CatalogCommands
from domain.commands_credit import CreditControlCommands
from domain.commands_credits import CreditCommands
from domain.commands_finance import FinanceCommands
from domain.commands_matching import MatchingCommands
from domain.commands_production import ProductionCommands
from domain.commands_purchasing import PurchasingCommands
from domain.commands_statements import StatementCommands
from domain.commands_stock import StockCommands


class Ledger(
    CatalogCommands,
    PurchasingCommands,
    ProductionCommands,
    CreditCommands,
    CreditControlCommands,
    MatchingCommands,
    FinanceCommands,
    StatementCommands,
    StockCommands,
    AccessCommands,
):
    """Orders, stock and (later) receivables as event-sourced aggregates in one log."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        receipt_tolerance: Decimal | None = None,
        tax_rate: Decimal | None = None,
        write_off_approver_roles: Sequence[str] | None = None,
    ) -> None:
        if receipt_tolerance is not None:
            self.receipt_tolerance = receipt_tolerance
        if tax_rate is not None:
            self.tax_rate = tax_rate
        if write_off_approver_roles is not None:
            self.write_off_approver_roles = tuple(write_off_approver_roles)
        super().__init__(env)
