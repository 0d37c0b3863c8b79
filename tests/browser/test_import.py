"""Importing spreadsheets through the console in a real browser: products from an XLSX
workbook, then their opening stock from a CSV file, each answered with what was created;
a file with bad rows is answered with every bad row and why, and nothing is stored."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Console, Served
from tests.spreadsheets import csv_bytes, xlsx_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRODUCTS = [
    ["sku", "name", "unit", "make_or_buy", "list_price", "standard_cost", "currency"],
    ["IMP-100", "Imported widget", "pcs", "buy", "12.50", "7.10", "EUR"],
    ["IMP-101", "Imported gadget", "pcs", "make", "30", "18", "EUR"],
]
STOCK = [
    ["sku", "warehouse", "quantity", "reference", "effective_date"],
    ["IMP-100", "WH-BER", "25", "OPENING-IMP", "2026-01-01"],
    ["IMP-101", "WH-HAM", "4", "OPENING-IMP", ""],
]
BAD_PRODUCTS = [
    ["sku", "name", "unit", "make_or_buy", "list_price", "standard_cost", "currency"],
    ["IMP-200", "Good one", "pcs", "buy", "5", "3", "EUR"],
    ["IMP-201", "", "pcs", "maybe", "5", "3", "EUR"],
    ["IMP-202", "Priced in words", "pcs", "buy", "five", "3", "EUR"],
]


def upload(page: Any, kind: str, name: str, data: bytes, mime: str, skip: bool = False) -> Any:
    """Choose the kind's tab, the file and the option, and send; the drawn report."""
    page.click(f'.tabs a[data-kind="{kind}"]')
    page.wait_for_url(f"**/console/import?kind={kind}")
    page.set_input_files('input[name="file"]', files=[{"name": name, "mimeType": mime,
                                                        "buffer": data}])  # fmt: skip
    if skip:
        page.check('input[name="skip_bad_rows"]')
    page.click('form.upload button[type="submit"]')
    report = page.locator("#import-report")
    report.locator("h3").wait_for()
    return report


def figure(report: Any, name: str) -> str:
    text: str = report.locator(f'[data-figure="{name}"] .value').inner_text()
    return text


def test_products_then_their_opening_stock_are_imported_and_counted(
    console: Console, served: Served
) -> None:
    page = console.sign_in("manager", then="/console/import")
    assert page.locator("h1").inner_text() == "Import from a spreadsheet"
    report = upload(page, "products", "products.xlsx", xlsx_bytes(PRODUCTS), XLSX)
    assert report.get_attribute("data-outcome") == "applied"
    assert report.locator("h3").inner_text() == "Imported"
    assert (figure(report, "rows"), figure(report, "created"), figure(report, "unchanged")) == (
        "2", "2", "0")  # fmt: skip
    assert report.locator('[data-figure="bad_rows"]').count() == 0  # none to skip
    console.shot("import-products-done")

    report = upload(page, "stock", "opening.csv", csv_bytes(STOCK), "text/csv")
    assert report.get_attribute("data-outcome") == "applied"
    assert figure(report, "created") == "2"
    admin = served.api("admin")
    item = admin.get("/stock-items/IMP-100/WH-BER").json()
    assert item["physical"] == "25"

    again = upload(page, "stock", "opening.csv", csv_bytes(STOCK), "text/csv")
    assert (figure(again, "created"), figure(again, "unchanged")) == ("0", "2")


def test_bad_rows_are_reported_each_with_why_and_nothing_is_stored(
    console: Console, served: Served
) -> None:
    page = console.sign_in("manager", then="/console/import?kind=products")
    admin = served.api("admin")
    report = upload(page, "products", "products.csv", csv_bytes(BAD_PRODUCTS), "text/csv")
    assert report.get_attribute("data-outcome") == "refused"
    assert "Nothing was imported" in report.locator("h3").inner_text()
    rows = report.locator("table.bad-rows tbody tr")
    assert [rows.nth(i).get_attribute("data-row") for i in range(rows.count())] == ["3", "4"]
    third = report.locator('tr[data-row="3"] li').all_inner_texts()
    assert any("name is required" in why for why in third), third
    assert any("make_or_buy" in why for why in third), third
    assert any(
        "list_price" in why for why in report.locator('tr[data-row="4"] li').all_inner_texts()
    )
    assert page.locator("form.upload .form-error").inner_text() == ""  # the report says it
    console.shot("import-bad-rows")
    for sku in ("IMP-200", "IMP-201", "IMP-202"):
        assert admin.get(f"/products/{sku}").status_code == 404, sku
    console.errors = [e for e in console.errors if "422" not in e]  # the refusal is the point

    skipped = upload(page, "products", "products.csv", csv_bytes(BAD_PRODUCTS), "text/csv",
                     skip=True)  # fmt: skip
    assert skipped.get_attribute("data-outcome") == "applied"
    assert (figure(skipped, "created"), figure(skipped, "bad_rows")) == ("1", "2")
    assert admin.get("/products/IMP-200").status_code == 200
    assert admin.get("/products/IMP-201").status_code == 404


def test_the_import_page_fits_a_phone(phone: Console) -> None:
    page = phone.sign_in("manager", then="/console/import?kind=orders")
    assert page.locator("table.columns code", has_text="order_number").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("import-orders-phone")
