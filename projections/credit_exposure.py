"""Credit exposure read model: what credit control needs to know of customers and orders.

`credit_customers` holds each customer's credit limit and its currency. `credit_orders` has
one row per sales order: its status and whether it was submitted (so awaiting approval can
be told from a draft), its lines and what of them has shipped, the net value not shipped yet
(`open_value`) and how much of it counts as an open order (`counted`), and the credit hold
or release in force with who gave it and the figures it was decided on. `credit_balances`
keeps, per customer and currency, the running sums a credit check needs — open orders and
shipments pending invoice — so a check reads one row however many orders a customer has.
The projection keeps its own position: added to a ledger with history, it builds itself from
the start of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from domain.credit import open_value
from domain.customers import Customer
from domain.invoices import Invoice
from domain.receivables import Receivable
from domain.sales_orders import SalesOrder
from projections.base import Index, PositionedEvent, Projection, events_of
from projections.store import Cursor

CUSTOMER_COLUMNS = ["code", "name", "currency", "credit_limit", "payment_terms_days"]
ORDER_COLUMNS = [
    "order_id", "number", "customer", "currency", "status", "submitted", "lines", "shipped",
    "open_value", "counted", "held_at", "hold", "released_at", "release", "position",
]  # fmt: skip
BALANCE_COLUMNS = ["customer", "currency", "pending_invoice", "open_orders"]
OPEN_STATUSES = ("approved", "partially_shipped")  # and created once submitted


def dumps(value: Any) -> str:
    """JSON text with exact decimals (as strings)."""
    return orjson.dumps(value, default=_default).decode()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


class CreditExposureProjection(Projection):
    """`credit_customers` (limits) and `credit_orders` (open value and holds per order)."""

    name = "credit"
    event_classes = (
        *events_of(Customer, "Registered", "CreditLimitChanged"),
        *events_of(Receivable, "Recognised"),
        *events_of(Invoice, "Issued"),
        *events_of(
            SalesOrder, "Created", "Amended", "Submitted", "Rejected", "StockAllocated",
            "Shipped", "Cancelled", "CreditHeld", "CreditReleased",
        ),
    )  # fmt: skip
    tables = {
        "credit_customers": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " code TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL,"
            " credit_limit {dec} NOT NULL, payment_terms_days INTEGER NOT NULL)"
        ),
        "credit_orders": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " order_id TEXT PRIMARY KEY, number TEXT NOT NULL, customer TEXT NOT NULL,"
            " currency TEXT NOT NULL, status TEXT NOT NULL, submitted {bool} NOT NULL,"
            " lines TEXT NOT NULL, shipped TEXT NOT NULL, open_value {dec} NOT NULL,"
            " counted {dec} NOT NULL, held_at {ts}, hold TEXT, released_at {ts}, release TEXT,"
            " position {bigint} NOT NULL)"
        ),
        "credit_balances": (
            "CREATE TABLE IF NOT EXISTS {t} ("
            " customer TEXT NOT NULL, currency TEXT NOT NULL, pending_invoice {dec} NOT NULL,"
            " open_orders {dec} NOT NULL, PRIMARY KEY (customer, currency))"
        ),
    }
    indexes = (
        Index("ix_credit_orders_number", "credit_orders", "number", unique=True),
        Index("ix_credit_orders_customer", "credit_orders", "customer, status"),
        Index("ix_credit_orders_held", "credit_orders", "held_at"),
    )

    def apply(self, cur: Cursor, events: Sequence[PositionedEvent]) -> None:
        customers: list[tuple[Any, ...]] = []
        limits: list[tuple[Any, str]] = []  # applied after the page's registrations
        shifts: dict[tuple[str, str], list[Decimal]] = {}  # → [pending invoice, open orders]

        def shift(customer: str, currency: str, pending: Any = 0, open_orders: Any = 0) -> None:
            sums = shifts.setdefault((customer, currency), [Decimal(0), Decimal(0)])
            sums[0] += pending
            sums[1] += open_orders

        ids = sorted({str(e.originator_id) for _, e in events if isinstance(e, SalesOrder.Event)})
        orders = self._load(cur, ids)
        for position, e in events:
            name = type(e).__qualname__
            if name == "Customer.Registered":
                customers.append((
                    e.code, e.name, e.currency, e.credit_limit, e.payment_terms_days,
                ))  # fmt: skip
            elif name == "Customer.CreditLimitChanged":
                limits.append((e.credit_limit, e.code))
            elif name == "Receivable.Recognised":
                shift(e.customer, e.currency, pending=e.total)
            elif name == "Invoice.Issued":  # its total is its receivables' totals
                shift(e.customer, e.currency, pending=-e.total)
            else:
                row = self._order(orders, e)
                if row is None:
                    continue
                counted = row["counted"]
                _fold(row, name.rsplit(".", 1)[-1], e)
                row["position"] = position
                shift(row["customer"], row["currency"], open_orders=row["counted"] - counted)
        cur.upsert_rows(self.t("credit_customers"), CUSTOMER_COLUMNS, "code", customers)
        cur.executemany(
            f"UPDATE {self.t('credit_customers')} SET credit_limit = ? WHERE code = ?", limits
        )
        rows = [_stored(row) for row in orders.values()]
        cur.upsert_rows(self.t("credit_orders"), ORDER_COLUMNS, "order_id", rows)
        self._shift_balances(cur, shifts)

    @staticmethod
    def _order(orders: dict[str, dict[str, Any]], e: Any) -> dict[str, Any] | None:
        if type(e).__name__ == "Created":
            orders[str(e.originator_id)] = _new_order(e)
        return orders.get(str(e.originator_id))

    def _shift_balances(self, cur: Cursor, shifts: dict[tuple[str, str], list[Decimal]]) -> None:
        """Add the page's changes to the running sums (exact decimals, summed here: SQLite
        would add its text columns as floating point)."""
        table = self.t("credit_balances")
        found: dict[tuple[str, str], list[Decimal]] = {}
        customers = sorted({customer for customer, _ in shifts})
        for start in range(0, len(customers), 500):  # one query per 500, not per customer
            chunk = customers[start : start + 500]
            rows = cur.execute(
                f"SELECT customer, currency, pending_invoice, open_orders FROM {table}"
                f" WHERE customer IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for customer, currency, pending, open_orders in rows:
                found[(customer, str(currency))] = [Decimal(pending), Decimal(open_orders)]
        rows = []
        for key, (pending, open_orders) in sorted(shifts.items()):
            before = found.get(key, [Decimal(0), Decimal(0)])
            rows.append((*key, before[0] + pending, before[1] + open_orders))
        cur.upsert_rows(table, BALANCE_COLUMNS, "customer, currency", rows)

    def _load(self, cur: Cursor, ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur.execute(
                f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.t('credit_orders')}"
                f" WHERE order_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in cur.fetchdicts():
                row["lines"] = orjson.loads(row["lines"])
                row["shipped"] = {k: Decimal(v) for k, v in orjson.loads(row["shipped"]).items()}
                row["counted"] = Decimal(row["counted"])
                found[row["order_id"]] = row
        return found


def _new_order(e: Any) -> dict[str, Any]:
    return {
        "order_id": str(e.originator_id), "number": e.number, "customer": e.customer,
        "currency": e.currency, "status": "created", "submitted": False, "lines": _lines(e),
        "shipped": {}, "open_value": Decimal(0), "counted": Decimal(0), "held_at": None,
        "hold": None,
        "released_at": None, "release": None, "position": 0,
    }  # fmt: skip


def _lines(e: Any) -> list[dict[str, str]]:
    return [
        {"line_no": line["line_no"], "quantity": str(line["quantity"]),
         "unit_price": str(line["unit_price"]), "discount": str(line.get("discount", 0))}
        for line in e.lines
    ]  # fmt: skip


def _fold(row: dict[str, Any], kind: str, e: Any) -> None:
    if kind == "Amended":
        row["lines"] = _lines(e)
        if e.lines_changed:
            row.update(status="created", submitted=False)
    elif kind == "Submitted":
        row["submitted"] = True
    elif kind == "Rejected":
        row["submitted"] = False
    elif kind == "StockAllocated":
        row["status"] = "approved"
    elif kind == "Shipped":
        for key, qty in e.quantities.items():
            row["shipped"][key] = row["shipped"].get(key, Decimal(0)) + qty
        row["status"] = "shipped" if e.complete else "partially_shipped"
        if e.complete:
            row.update(released_at=None, release=None)
    elif kind == "Cancelled":
        row["status"] = "cancelled"
    elif kind == "CreditHeld":
        hold = {"reason": e.reason, "source": e.source, "actor": e.actor, "role": e.role,
                "shipment_ref": e.shipment_ref, "figures": e.figures}  # fmt: skip
        row.update(held_at=e.effective_at, hold=hold, released_at=None, release=None)
    elif kind == "CreditReleased":
        release = {"reason": e.reason, "actor": e.actor, "role": e.role}
        row.update(held_at=None, hold=None, released_at=e.effective_at, release=release)
    row["open_value"] = open_value(row["lines"], row["shipped"], row["currency"])
    counts = row["status"] in OPEN_STATUSES or (row["status"] == "created" and row["submitted"])
    row["counted"] = row["open_value"] if counts else Decimal(0)


def _stored(row: dict[str, Any]) -> tuple[Any, ...]:
    values = {
        **row,
        "lines": dumps(row["lines"]),
        "shipped": dumps(row["shipped"]),
        "hold": None if row["hold"] is None else _json_text(row["hold"]),
        "release": None if row["release"] is None else _json_text(row["release"]),
        "submitted": bool(row["submitted"]),
    }
    return tuple(values[column] for column in ORDER_COLUMNS)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)
