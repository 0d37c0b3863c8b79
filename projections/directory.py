"""Who is who for the outbox: customers' contact addresses, each order's number and customer.

Kept in the outbox's own tables (so a rebuild rebuilds them too) and read as of the event
being addressed: a notification goes to the contacts the customer had then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from domain.customers import Customer
from domain.sales_orders import SalesOrder
from projections.base import PositionedEvent, events_of
from projections.store import Cursor

CHUNK = 500
(REGISTERED,) = events_of(Customer, "Registered")
CREATED, AMENDED = events_of(SalesOrder, "Created", "Amended")
# The events that keep the directory current: whose contacts, whose order, which SKUs.
DIRECTORY_EVENTS = (REGISTERED, CREATED, AMENDED)


@dataclass
class OrderRef:
    """What a notification about an order needs: its number, customer and line SKUs."""

    number: str
    customer: str
    skus: dict[str, str]  # line no → SKU

    def sku(self, line_no: Any) -> str:
        return self.skus.get(str(line_no), "?")


class Directory:
    """Lookups for one page of events; `record` keeps them current, `save` writes them back."""

    def __init__(
        self,
        cur: Cursor,
        tables: tuple[str, str],
        customers: dict[str, tuple[str, ...]],
        orders: dict[str, OrderRef],
        roles: Mapping[str, tuple[str, ...]],
    ) -> None:
        self.cur = cur
        self.customers_table, self.orders_table = tables
        self.customers, self.orders, self.roles = customers, orders, roles
        self._changed_customers: set[str] = set()
        self._changed_orders: set[str] = set()

    def customer_emails(self, code: str) -> tuple[str, ...]:
        """The customer's contact addresses (none known: no e-mail, never an error)."""
        if code not in self.customers:
            self.customers.update(_customers(self.cur, self.customers_table, [code]))
        return self.customers.get(code, ())

    def order(self, order_id: UUID | str) -> OrderRef | None:
        key = str(order_id)
        if key not in self.orders:
            self.orders.update(_orders(self.cur, self.orders_table, [key]))
        return self.orders.get(key)

    def role_emails(self, role: str) -> tuple[str, ...]:
        """The addresses configured for a role (ORDERLEDGER_ROLE_EMAILS); none if unknown."""
        return self.roles.get(role, ())

    def record(self, e: Any) -> None:
        """Follow the events that change who is who; others pass untouched."""
        handler = {
            REGISTERED: self._registered, CREATED: self._created, AMENDED: self._amended
        }.get(type(e))  # fmt: skip
        if handler is not None:
            handler(e)

    def _registered(self, e: Any) -> None:
        self.customers[e.code] = _emails(e.contacts)
        self._changed_customers.add(e.code)

    def _created(self, e: Any) -> None:
        key = str(e.originator_id)
        self.orders[key] = OrderRef(e.number, e.customer, _skus(e.lines))
        self._changed_orders.add(key)

    def _amended(self, e: Any) -> None:
        ref = self.order(e.originator_id)
        if ref is not None:
            ref.skus = _skus(e.lines)
            self._changed_orders.add(str(e.originator_id))

    def save(self, cur: Cursor) -> None:
        customers = [
            (code, orjson.dumps(list(self.customers[code])).decode())
            for code in sorted(self._changed_customers)
        ]
        cur.upsert_rows(self.customers_table, ["code", "emails"], "code", customers)
        orders = [
            (key, ref.number, ref.customer, orjson.dumps(ref.skus).decode())
            for key in sorted(self._changed_orders)
            for ref in [self.orders[key]]
        ]
        cur.upsert_rows(
            self.orders_table, ["order_id", "number", "customer", "lines"], "order_id", orders
        )


def load_directory(
    cur: Cursor,
    tables: tuple[str, str],
    events: Sequence[PositionedEvent],
    roles: Mapping[str, tuple[str, ...]],
) -> Directory:
    """The rows one page's orders need, in a few bulk reads instead of one read per event
    (anything else is read when asked for). `tables`: the customers and orders tables."""
    order_ids = sorted({str(e.originator_id) for _, e in events if isinstance(e, SalesOrder.Event)})
    orders = _orders(cur, tables[1], order_ids)
    codes = {ref.customer for ref in orders.values()}
    codes |= {e.customer for _, e in events if type(e).__qualname__ == "SalesOrder.Created"}
    customers = _customers(cur, tables[0], sorted(codes))
    return Directory(cur, tables, customers, orders, roles)


def _orders(cur: Cursor, table: str, keys: list[str]) -> dict[str, OrderRef]:
    rows = _select(cur, table, "order_id, number, customer, lines", "order_id", keys)
    return {row[0]: OrderRef(row[1], row[2], orjson.loads(row[3])) for row in rows}


def _customers(cur: Cursor, table: str, codes: list[str]) -> dict[str, tuple[str, ...]]:
    rows = _select(cur, table, "code, emails", "code", codes)
    return {row[0]: tuple(orjson.loads(row[1])) for row in rows}


def _select(cur: Cursor, table: str, columns: str, key: str, keys: list[str]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {columns} FROM {table} WHERE {key} IN ({marks})"
        found += cur.execute(sql, chunk).fetchall()
    return found


def _emails(contacts: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    found = (str(c.get("email") or "").strip() for c in contacts)
    return tuple(dict.fromkeys(address for address in found if address))


def _skus(lines: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(line["line_no"]): str(line["sku"]) for line in lines}
