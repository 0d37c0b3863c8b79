"""Spreadsheet imports on a real event store (SQLite and PostgreSQL): each kind from CSV and
from XLSX, bad rows refused as a whole or skipped, and re-imports that store nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.imports import ImportRefused, ImportRequest, run_import
from domain.ledger import Ledger
from domain.values import Meta
from tests.conftest import command_meta
from tests.spreadsheets import CUSTOMERS, ORDERS, PRODUCTS, STOCK, csv_bytes, plus, xlsx_bytes


def imported(ledger: Ledger, kind: str, data: bytes, **options: bool) -> dict[str, object]:
    meta: Meta = command_meta("import")
    return run_import(ledger, meta, ImportRequest(kind, data, f"{kind}.file", **options))


def counts(report: dict[str, object]) -> tuple[object, ...]:
    return report["created"], report["unchanged"], report["bad_rows"]


FILES = [("customers", CUSTOMERS), ("products", PRODUCTS), ("stock", STOCK), ("orders", ORDERS)]
EXTRA = {
    "customers": ["C-102", "Gamma SA", "West", "EUR", "3 Quay Hamburg", "14", "0", ""],
    "products": ["P-102", "Sprocket", "kg", "buy", "4.25", "2", "EUR", "false"],
    "stock": ["P-102", "WH2", "7", "OPENING-2025", "2025-01-01"],
    "orders": ["SO-102", "C-102", "WH1", "EUR", "cy", "P-102", "5", "4.25", "", "", ""],
}


def test_every_kind_imports_from_csv_then_xlsx_and_a_reimport_stores_nothing(
    ledger: Ledger,
) -> None:
    for kind, rows in FILES:
        report = imported(ledger, kind, csv_bytes(rows))
        assert report["format"] == "csv"
        assert counts(report) == (len({r[0] for r in rows[1:]}) if kind == "orders" else
                                  len(rows) - 1, 0, 0), report  # fmt: skip
    acme = ledger.customer("C-100")
    assert (acme.name, acme.payment_terms_days, acme.credit_limit) == ("Acme GmbH", 30, 50000)
    assert ledger.customer("C-101").payment_terms_days == 30  # the default
    assert ledger.product("P-100").list_price == Decimal("12.50")
    item = ledger.stock_item("P-101", "WH1")
    assert item.physical == Decimal("12.5")
    order = ledger.sales_order("SO-100")
    assert [(x["sku"], x["quantity"], x["discount"]) for x in order.lines] == [
        ("P-100", Decimal(3), Decimal(0)), ("P-101", Decimal(1), Decimal("0.05"))]  # fmt: skip
    assert order.requirements == {"carrier": "DHL"}
    head = ledger.head()
    # The same data as XLSX plus one new row per kind: only the new rows are created.
    for kind, rows in FILES:
        report = imported(ledger, kind, xlsx_bytes(plus(rows, EXTRA[kind])))
        assert report["format"] == "xlsx"
        old = len({r[0] for r in rows[1:]}) if kind == "orders" else len(rows) - 1
        assert counts(report) == (1, old, 0), report
    assert ledger.stock_item("P-102", "WH2").physical == 7
    assert ledger.sales_order("SO-102").lines[0]["unit_price"] == Decimal("4.25")
    assert ledger.head() > head
    head = ledger.head()
    for kind, rows in FILES:
        report = imported(ledger, kind, xlsx_bytes(plus(rows, EXTRA[kind])))
        assert report["created"] == 0
        report = imported(ledger, kind, csv_bytes(rows))
        assert report["created"] == 0
    assert ledger.head() == head


BAD_ORDERS = plus(
    ORDERS[:2],
    ["SO-200", "C-999", "WH1", "EUR", "ann", "P-100", "1", "1", "", "", ""],
    ["SO-201", "C-100", "WH1", "EUR", "ann", "P-404", "1", "1", "", "", ""],
    ["SO-201", "C-100", "WH1", "EUR", "ann", "P-100", "1", "1", "", "", ""],
    ["SO-202", "C-100", "WH1", "EUR", "ann", "P-100", "-2", "1.999", "", "soon", ""],
    ["SO-100", "C-100", "WH2", "EUR", "ann", "P-100", "1", "1", "", "2025-02-01", "DHL"],
    ["SO-203", "C-101", "WH1", "EUR", "bob", "P-101", "4", "30", "", "", ""],
)


def test_a_file_with_bad_rows_names_each_and_stores_nothing_unless_told_to_skip_them(
    ledger: Ledger,
) -> None:
    for kind, rows in FILES[:2]:
        imported(ledger, kind, csv_bytes(rows))
    head = ledger.head()
    with pytest.raises(ImportRefused) as refused:
        imported(ledger, "orders", xlsx_bytes(BAD_ORDERS))
    assert ledger.head() == head
    bad = {row["row"]: " / ".join(row["errors"]) for row in refused.value.report["bad"]}
    assert bad == {
        2: "order SO-100 has a bad row",
        3: "unknown customer 'C-999'",
        4: "unknown sku 'P-404'",
        5: "order SO-201 has a bad row",
        6: "promised_date must be a date YYYY-MM-DD, got 'soon' / quantity must be greater"
        " than zero, got -2 / unit_price in EUR has more than 2 decimal places: 1.999",
        7: "warehouse differs from row 2 of order SO-100",
    }
    assert refused.value.report["rows"] == 7
    dry = imported(ledger, "orders", xlsx_bytes(BAD_ORDERS), dry_run=True)
    assert counts(dry) == (1, 0, 6)
    assert ledger.head() == head
    report = imported(ledger, "orders", xlsx_bytes(BAD_ORDERS), skip_bad_rows=True)
    assert counts(report) == (1, 0, 6)
    assert [line["sku"] for line in ledger.sales_order("SO-203").lines] == ["P-101"]


def test_an_opening_balance_imported_again_with_another_quantity_is_a_bad_row(
    ledger: Ledger,
) -> None:
    for kind, rows in FILES[1:3]:
        imported(ledger, kind, csv_bytes(rows))
    head = ledger.head()
    changed = [STOCK[0], ["P-100", "WH1", "41", "OPENING-2025", "2025-01-01"],
               ["P-100", "WH1", "1", "OPENING-2025", "2025-01-01"],
               ["P-100", "WH9", "1", "OPENING-2026", ""], STOCK[2]]  # fmt: skip
    with pytest.raises(ImportRefused) as refused:
        imported(ledger, "stock", csv_bytes(changed, ";"))
    assert [(r["row"], r["errors"]) for r in refused.value.report["bad"]] == [
        (2, ["opening stock of P-100 in WH1 under OPENING-2025 was imported before with a"
             " different quantity or date"]),
        (3, ["opening stock of P-100 in WH1 under OPENING-2025 was imported before with a"
             " different quantity or date"]),
        (4, ["unknown warehouse 'WH9'"]),
    ]  # fmt: skip
    assert ledger.head() == head
    # A new reference is a new count: the balance a later stock-take sets.
    later = imported(
        ledger, "stock", csv_bytes([STOCK[0], ["P-100", "WH1", "41", "OPENING-2026", ""]])
    )
    assert counts(later) == (1, 0, 0)
    assert ledger.stock_item("P-100", "WH1").physical == 41
