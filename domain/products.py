"""Product master: what can be stocked, sold, made or bought."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.values import stable_id

MAKE_OR_BUY = ("make", "buy")


class Product(Aggregate):
    """A stock-keeping unit with its commercial and costing attributes."""

    @staticmethod
    def create_id(sku: str) -> UUID:
        return stable_id("product", sku)

    @event("Registered")
    def __init__(
        self,
        sku: str,
        name: str,
        unit: str,
        make_or_buy: str,
        standard: bool,
        list_price: Decimal,
        standard_cost: Decimal,
        currency: str,
    ) -> None:
        self.sku = sku
        self.name = name
        self.unit = unit
        self.make_or_buy = make_or_buy
        self.standard = standard
        self.list_price = list_price
        self.standard_cost = standard_cost
        self.currency = currency

    @event("Repriced")
    def reprice(self, list_price: Decimal, standard_cost: Decimal) -> None:
        self.list_price = list_price
        self.standard_cost = standard_cost
