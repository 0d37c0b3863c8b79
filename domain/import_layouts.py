"""The column layout of each kind of import, and each row read into a command's arguments.

A layout is data: the columns, whether each is required, and what it holds (docs/imports.md
prints the same). Reading a row checks every cell with the domain's own value rules and
collects every problem it finds, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.exceptions import InvalidInput
from domain.products import MAKE_OR_BUY
from domain.values import (
    code,
    currency,
    fraction,
    money,
    non_negative_quantity,
    price,
    quantity,
    text,
)

KINDS = ("customers", "products", "stock", "orders")
TRUE, FALSE = ("true", "yes", "y", "1"), ("false", "no", "n", "0")
REQUIRED: Any = object()  # `RowReader.get`'s default for a column that must have a value


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    holds: str


def _c(name: str, holds: str, required: bool = True) -> Column:
    return Column(name, required, holds)


LAYOUTS: dict[str, tuple[Column, ...]] = {
    "customers": (
        _c("code", "customer code: the key; letters, digits, . _ -"),
        _c("name", "the customer's name"),
        _c("region", "sales region"),
        _c("currency", "ISO 4217 code, e.g. EUR"),
        _c("billing_address", "billing address"),
        _c("shipping_address", "default: the billing address", False),
        _c("payment_terms_days", "0-365, default 30", False),
        _c("credit_limit", "amount in the currency, default 0", False),
        _c("contact_name", "default: the customer's name", False),
        _c("contact_email", "contact e-mail (order notifications go there)", False),
        _c("contact_phone", "contact phone", False),
    ),
    "products": (
        _c("sku", "stock-keeping unit: the key"),
        _c("name", "product name"),
        _c("unit", "unit of measure, e.g. pcs, kg"),
        _c("make_or_buy", "make (produced) or buy (purchased)"),
        _c("list_price", "list price"),
        _c("standard_cost", "standard cost"),
        _c("currency", "ISO 4217 code of both amounts"),
        _c("standard", "true/false (a standard product), default true", False),
    ),
    "stock": (
        _c("sku", "a product already registered"),
        _c("warehouse", "a warehouse already registered"),
        _c("quantity", "the counted opening quantity, 0 or more"),
        _c("reference", "the import reference, e.g. OPENING-2025: with SKU × warehouse, the key"),
        _c(
            "effective_date",
            "YYYY-MM-DD the balance counts from; default: the import's time",
            False,
        ),
    ),
    "orders": (
        _c("order_number", "the order's number: the key; one row per line, same number"),
        _c("customer", "customer code, registered and active"),
        _c("warehouse", "the warehouse that ships it"),
        _c("currency", "ISO 4217 code"),
        _c("salesperson", "who took the order"),
        _c("sku", "the line's product"),
        _c("quantity", "the line's quantity, more than 0"),
        _c("unit_price", "the line's unit price"),
        _c("discount", "the line's discount as a fraction (0.05 = 5%), default 0", False),
        _c("region", "default: the customer's region", False),
        _c("requested_delivery", "YYYY-MM-DD", False),
        _c("promised_date", "YYYY-MM-DD", False),
        _c("packaging", "special requirement", False),
        _c("carrier", "special requirement", False),
        _c("notes", "special requirement", False),
    ),
}

# Columns every line of one order must repeat identically.
ORDER_HEADER = ("customer", "warehouse", "currency", "salesperson", "region",
                "requested_delivery", "promised_date", "packaging", "carrier", "notes")  # fmt: skip


class RowReader:
    """The cells of one row, each read by a rule; problems are collected, not raised."""

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells
        self.errors: list[str] = []
        if "\x00extra" in cells:
            self.errors.append(cells["\x00extra"])

    def get(self, name: str, rule: Callable[[str, str], Any], default: Any = REQUIRED) -> Any:
        raw = self.cells.get(name, "")
        if raw == "":
            if default is REQUIRED:
                self.errors.append(f"{name} is required")
            return default
        try:
            return rule(raw, name)
        except InvalidInput as error:
            self.errors.append(error.message)
            return None


def short(value: str, what: str) -> str:
    return text(value, what, max_length=64)


def address(value: str, what: str) -> str:
    return text(value, what, max_length=500)


def requirement(value: str, what: str) -> str:
    return text(value, what, max_length=2000)


def whole_days(value: str, what: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 365:
        raise InvalidInput(f"{what} must be a whole number from 0 to 365, got {value!r}")
    return int(value)


def flag(value: str, what: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise InvalidInput(f"{what} must be true or false, got {value!r}")


def day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def make_or_buy(value: str, what: str) -> str:
    if value.lower() not in MAKE_OR_BUY:
        raise InvalidInput(f"{what} must be one of {', '.join(MAKE_OR_BUY)}, got {value!r}")
    return value.lower()


def customer_args(row: RowReader) -> dict[str, Any]:
    name = row.get("name", text)
    billing = row.get("billing_address", address)
    contact = {
        "name": row.get("contact_name", text, name or ""),
        "email": row.get("contact_email", text, ""),
        "phone": row.get("contact_phone", lambda v, w: text(v, w, max_length=40), ""),
    }
    return {
        "code_": row.get("code", code),
        "name": name,
        "contacts": [contact] if contact["name"] else [],
        "billing_address": billing,
        "shipping_address": row.get("shipping_address", address, billing),
        "region": row.get("region", short),
        "payment_terms_days": row.get("payment_terms_days", whole_days, 30),
        "credit_limit": row.get("credit_limit", money, "0"),
        "currency_code": row.get("currency", lambda v, w: currency(v)),
    }


def product_args(row: RowReader) -> dict[str, Any]:
    return {
        "sku": row.get("sku", code),
        "name": row.get("name", text),
        "unit": row.get("unit", lambda v, w: text(v, w, max_length=16)),
        "make_or_buy": row.get("make_or_buy", make_or_buy),
        "standard": row.get("standard", flag, True),
        "list_price": row.get("list_price", money),
        "standard_cost": row.get("standard_cost", money),
        "currency_code": row.get("currency", lambda v, w: currency(v)),
    }


def stock_args(row: RowReader) -> dict[str, Any]:
    return {
        "sku": row.get("sku", code),
        "warehouse": row.get("warehouse", code),
        "counted": row.get("quantity", non_negative_quantity),
        "count_ref": row.get("reference", code),
        "effective_date": row.get("effective_date", day, None),
    }


def order_row_args(row: RowReader) -> dict[str, Any]:
    """An order's header columns and one line, as read from one row."""
    money_code = row.get("currency", lambda v, w: currency(v))

    def unit_price(value: str, what: str) -> Decimal:
        return price(value, money_code, what) if money_code else money(value, what)

    return {
        "number": row.get("order_number", code),
        "customer": row.get("customer", code),
        "warehouse": row.get("warehouse", code),
        "currency_code": money_code,
        "salesperson": row.get("salesperson", short),
        "region": row.get("region", short, None),
        "requested_delivery": row.get("requested_delivery", day, None),
        "promised_date": row.get("promised_date", day, None),
        "requirements": {
            name: value
            for name in ("packaging", "carrier", "notes")
            if (value := row.get(name, requirement, None))
        },
        "line": {
            "sku": row.get("sku", code),
            "quantity": row.get("quantity", quantity),
            "unit_price": row.get("unit_price", unit_price),
            "discount": row.get("discount", fraction, "0"),
        },
    }


READERS: dict[str, Callable[[RowReader], dict[str, Any]]] = {
    "customers": customer_args,
    "products": product_args,
    "stock": stock_args,
    "orders": order_row_args,
}
