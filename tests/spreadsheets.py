"""Small spreadsheet files for the import tests, written as CSV text or as real XLSX
workbooks (openpyxl), cells typed the way a spreadsheet stores them."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook

Rows = list[list[str]]

CUSTOMERS: Rows = [
    ["code", "name", "region", "currency", "billing_address", "payment_terms_days",
     "credit_limit", "contact_email"],
    ["C-100", "Acme GmbH", "North", "EUR", "1 Main St Berlin", "30", "50000", "buy@acme.test"],
    ["C-101", "Beta AG", "South", "EUR", "2 Side St Munich", "", "", ""],
]  # fmt: skip
PRODUCTS: Rows = [
    ["sku", "name", "unit", "make_or_buy", "list_price", "standard_cost", "currency", "standard"],
    ["P-100", "Widget", "pcs", "buy", "12.50", "7.10", "EUR", "true"],
    ["P-101", "Gadget", "pcs", "make", "30", "18", "EUR", ""],
]
STOCK: Rows = [
    ["sku", "warehouse", "quantity", "reference", "effective_date"],
    ["P-100", "WH1", "40", "OPENING-2025", "2025-01-01"],
    ["P-101", "WH1", "12.5", "OPENING-2025", ""],
    ["P-100", "WH2", "0", "OPENING-2025", "2025-01-01"],
]
ORDERS: Rows = [
    ["order_number", "customer", "warehouse", "currency", "salesperson", "sku", "quantity",
     "unit_price", "discount", "promised_date", "carrier"],
    ["SO-100", "C-100", "WH1", "EUR", "ann", "P-100", "3", "12.50", "", "2025-02-01", "DHL"],
    ["SO-100", "C-100", "WH1", "EUR", "ann", "P-101", "1", "30", "0.05", "2025-02-01", "DHL"],
    ["SO-101", "C-101", "WH2", "EUR", "bob", "P-100", "2", "12", "", "", ""],
]  # fmt: skip


def csv_bytes(rows: Rows, delimiter: str = ",") -> bytes:
    return "".join(delimiter.join(row) + "\r\n" for row in rows).encode()


def xlsx_bytes(rows: Rows) -> bytes:
    """A workbook whose numeric cells hold numbers, as a person typing them would get."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append([_typed(cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _typed(cell: str) -> Any:
    if cell == "":
        return None
    if len(cell) == 10 and cell[4] == "-":
        return date.fromisoformat(cell)  # stored as a date cell, read back as a datetime
    try:
        number = Decimal(cell)
    except InvalidOperation:
        return cell
    return int(number) if number == number.to_integral_value() and "." not in cell else float(cell)


def plus(rows: Rows, *extra: list[str]) -> Rows:
    return [*rows, *extra]
