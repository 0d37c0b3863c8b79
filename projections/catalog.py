"""Catalog read model: products and warehouses, for listing and joining."""

from __future__ import annotations

from collections.abc import Sequence

from domain.products import Product
from domain.warehouses import Warehouse
from projections.base import PositionedEvent, Projection, events_of
from projections.store import Cursor


class CatalogProjection(Projection):
    """`products` and `warehouses` as they are now."""

    name = "catalog"
    event_classes = (
        *events_of(Product, "Registered", "Repriced"),
        *events_of(Warehouse, "Registered"),
    )
    tables = {
        "products": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " sku TEXT PRIMARY KEY, product_id TEXT NOT NULL, name TEXT NOT NULL,"
            " unit TEXT NOT NULL, make_or_buy TEXT NOT NULL, standard {bool} NOT NULL,"
            " list_price {dec} NOT NULL, standard_cost {dec} NOT NULL, currency TEXT NOT NULL,"
            " version INTEGER NOT NULL, registered_at {ts})"
        ),
        "warehouses": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " code TEXT PRIMARY KEY, warehouse_id TEXT NOT NULL, name TEXT NOT NULL,"
            " address TEXT NOT NULL, registered_at {ts})"
        ),
    }

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        for _, e in events:
            kind = type(e).__qualname__
            if kind == "Product.Registered":
                cur.execute(
                    f"INSERT INTO {self.t('products')} (sku, product_id, name, unit, make_or_buy,"
                    " standard, list_price, standard_cost, currency, version, registered_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (e.sku, str(e.originator_id), e.name, e.unit, e.make_or_buy, e.standard,
                     e.list_price, e.standard_cost, e.currency, 1, e.timestamp),
                )  # fmt: skip
            elif kind == "Product.Repriced":
                cur.execute(
                    f"UPDATE {self.t('products')} SET list_price = ?, standard_cost = ?,"
                    " version = ? WHERE product_id = ?",
                    (e.list_price, e.standard_cost, e.originator_version, str(e.originator_id)),
                )
            elif kind == "Warehouse.Registered":
                cur.execute(
                    f"INSERT INTO {self.t('warehouses')} (code, warehouse_id, name, address,"
                    " registered_at) VALUES (?,?,?,?,?)",
                    (e.code, str(e.originator_id), e.name, e.address, e.timestamp),
                )
