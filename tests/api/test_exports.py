"""Lists as CSV and XLSX files: every page of the JSON list, the same fields, redacted alike."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from openpyxl import load_workbook

from api import exports
from api.exports import XLSX_MEDIA
from tests.api.conftest import Api, assert_problem
from tests.api.test_shipments import CUSTOMER

LISTS = ("/inventory", "/sales-orders", "/receivables", "/products", "/invoices")


@pytest.fixture
def trading(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """Two warehouses × three products on hand, three orders shipped and one invoiced; the
    export walks 2 rows a page, so every list here is several pages."""
    monkeypatch.setattr(exports, "PAGE_ROWS", 2)
    for code in ("WH-1", "WH-2"):
        api.warehouse(code)
    api.product("SKU-1", name='=HYPERLINK("http://x")', standard_cost="6.1234")
    api.product("SKU-2", list_price="123456789.1234", standard_cost="0.0001")
    api.product("SKU-3")
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        for code in ("WH-1", "WH-2"):
            api.produce(sku, code, "10.5", ref=f"MO-{sku}-{code}")
    api.ok("/customers", CUSTOMER, 201)
    for n in (1, 2, 3):
        api.ok("/sales-orders", {"number": f"SO-{n}", "customer": "C-1", "warehouse": "WH-1",
                                 "salesperson": "ann", "requested_delivery": f"2026-03-0{n}",
                                 "lines": [{"sku": "SKU-1", "quantity": "1",
                                            "unit_price": "2.50"}]}, 201)  # fmt: skip
        api.ok(f"/sales-orders/SO-{n}/submit")
        api.ok(f"/sales-orders/SO-{n}/shipments",
               {"shipment_ref": f"SH-{n}", "lines": [{"line_no": 1, "quantity": "1"}],
                "carrier": "DHL", "tracking_number": f"T{n}"}, 201)  # fmt: skip
        last = api.ok("/invoices", {"customer": "C-1", "invoice_date": f"2026-02-1{n}",
                                    "shipments": [{"order_number": f"SO-{n}",
                                                   "shipment_ref": f"SH-{n}"}]}, 201)  # fmt: skip
    api.read("/receivables", min_position=last["position"])
    api.read("/inventory", min_position=last["position"])
    return api


def every_page(api: Api, path: str, **headers: str) -> list[dict[str, Any]]:
    """The JSON list walked 2 rows a page to its end."""
    items: list[dict[str, Any]] = []
    cursor_name = "cursor" if path == "/inventory" else "after"
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = api.client.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if page.json()["next_cursor"] is None:
            return items
        params[cursor_name] = page.json()["next_cursor"]


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def xlsx_rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_MEDIA
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    # a reader leaves out a row's trailing empty cells
    return [dict(zip(header, (*row, *[None] * (len(header) - len(row))), strict=True))
            for row in rows]  # fmt: skip


def as_csv(value: Any) -> str:
    """What a JSON value is in the CSV file."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    text = str(value)
    formula = isinstance(value, str) and text[:1] in ("=", "+", "-", "@") and not is_number(text)
    return "'" + text if formula else text


def is_number(text: str) -> bool:
    """A decimal the JSON answer writes as a string ("-1"): a number in the file, never text."""
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def same_cell(cell: Any, value: Any) -> bool:
    """A spreadsheet cell holds the JSON value: numbers exactly, times to the millisecond."""
    if isinstance(cell, datetime):
        given = datetime.fromisoformat(value)
        given = given.astimezone(UTC).replace(tzinfo=None) if given.tzinfo else given
        return abs(cell - given) < timedelta(milliseconds=1)
    if isinstance(cell, int | float) and not isinstance(cell, bool) and isinstance(value, str):
        return Decimal(repr(cell)) == Decimal(value)
    if isinstance(cell, dict | list):
        return False
    if isinstance(value, dict | list):
        return bool(cell == orjson.dumps(value).decode())
    return bool(cell == value)


def test_csv_and_xlsx_exports_hold_every_page_of_the_json_list_as_numbers_dates_and_text(
    trading: Api,
) -> None:
    for path in LISTS:
        listed = every_page(trading, path)
        assert len(listed) >= 3, path

        as_csv_file = csv_rows(trading.get(path, format="csv"))
        as_xlsx_file = xlsx_rows(trading.get(path, format="xlsx"))

        assert [list(row) for row in as_csv_file[:1]] == [list(listed[0])], path
        assert as_csv_file == [{k: as_csv(v) for k, v in item.items()} for item in listed], path
        assert len(as_xlsx_file) == len(listed), path
        for cells, item in zip(as_xlsx_file, listed, strict=True):
            assert list(cells) == list(item), path
            wrong = {k: (cells[k], v) for k, v in item.items() if not same_cell(cells[k], v)}
            assert not wrong, (path, wrong)

    products = {row["sku"]: row for row in xlsx_rows(trading.get("/products", format="xlsx"))}
    orders = xlsx_rows(trading.get("/sales-orders", format="xlsx"))
    csv_products = {row["sku"]: row for row in csv_rows(trading.get("/products", format="csv"))}

    assert products["SKU-1"]["name"] == '=HYPERLINK("http://x")'  # text, not a live formula
    assert csv_products["SKU-1"]["name"] == '\'=HYPERLINK("http://x")'
    assert products["SKU-1"]["standard_cost"] == pytest.approx(6.1234)
    assert isinstance(products["SKU-2"]["list_price"], float)
    assert Decimal(repr(products["SKU-2"]["list_price"])) == Decimal("123456789.1234")
    assert csv_products["SKU-2"]["standard_cost"] == "0.0001"
    assert [row["requested_delivery"] for row in orders] == [
        datetime(2026, 3, n)
        for n in (1, 2, 3)  # a date cell reads back at midnight
    ]
    assert all(isinstance(row["created_at"], datetime) for row in orders)


def test_an_exact_decimal_past_fifteen_digits_stays_exact_text() -> None:
    assert exports.xlsx_cell(None, "total", Decimal("1234567890.123456789"), frozenset()).value == (
        "1234567890.123456789"
    )
    assert exports.xlsx_cell(None, "total", Decimal("12.50"), frozenset()) == 12.5
    assert exports.xlsx_cell(None, "due_date", "2026-02-10", frozenset()) == date(2026, 2, 10)


def test_an_export_is_redacted_needs_the_list_permission_and_is_refused_to_customers(
    trading: Api,
) -> None:
    for fmt, rows in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        sales = rows(trading.client.get("/products", params={"format": fmt},
                                        headers={"X-Role": "sales"}))  # fmt: skip
        manager = rows(trading.client.get("/products", params={"format": fmt},
                                          headers={"X-Role": "manager"}))  # fmt: skip
        assert len(sales) == len(manager) == 3
        assert all("standard_cost" not in row for row in sales), fmt
        assert all("standard_cost" in row for row in manager), fmt
        assert [r["list_price"] for r in sales] == [r["list_price"] for r in manager]
    refused = trading.client.get("/receivables", params={"format": "csv"},
                                 headers={"X-Role": "warehouse"})  # fmt: skip
    assert assert_problem(refused, 403, "forbidden")["permission"] == "finance:read"
    customer = {"X-Role": "customer", "X-Customer": "C-1"}
    for path in ("/sales-orders", "/receivables", "/invoices"):
        for fmt in ("csv", "xlsx"):
            answer = trading.client.get(path, params={"format": fmt}, headers=customer)
            assert_problem(answer, 403, "forbidden")
        assert trading.client.get(path, headers=customer).status_code == 200
    by_accept = trading.client.get("/sales-orders", headers={**customer, "Accept": "text/csv"})
    assert_problem(by_accept, 403, "forbidden")


def test_a_bad_format_is_a_problem_accept_chooses_the_file_and_a_long_list_is_never_cut_short(
    trading: Api,
) -> None:
    body = assert_problem(trading.get("/inventory", format="pdf"), 422, "invalid-input")
    assert "format" in body["detail"]
    assert_problem(trading.get("/products", format="csv", after="bad cursor!"), 422,
                   "invalid-input")  # fmt: skip
    assert_problem(trading.get("/inventory", format="csv", cursor="nope"), 422, "invalid-cursor")

    answer = trading.client.get("/inventory", headers={"Accept": XLSX_MEDIA})
    assert answer.headers["content-type"] == XLSX_MEDIA
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="inventory-')
    assert disposition.endswith('.xlsx"')
    by_csv = trading.client.get("/sales-orders", headers={"Accept": "text/csv"})
    assert len(csv_rows(by_csv)) == 3
    assert by_csv.headers["content-disposition"].endswith('.csv"')
    assert trading.client.get("/inventory").headers["content-type"] == "application/json"

    trading.runtime.settings.export_max_rows = 5  # six inventory rows
    body = assert_problem(trading.get("/inventory", format="xlsx"), 422, "export-too-large")
    assert "5 rows" in body["detail"]
    with pytest.raises(exports.ExportTooLarge):
        trading.get("/inventory", format="csv")  # the stream breaks off: no short file
    assert len(csv_rows(trading.get("/inventory", format="csv", warehouse="WH-1"))) == 3


WHOLE_LISTS = {  # path: the key of the JSON answer whose rows the file holds
    "/open-items": "items",
    "/ar/ageing": "customers",
    "/safety-alerts": "items",
    "/purchase-requisitions": "items",
}
PAGED_LISTS = ("/inventory/SKU-1/WH-1/movements", "/payments/unapplied", "/credit-notes",
               "/write-offs", "/notifications")  # fmt: skip


def settled(path: str, row: dict[str, str]) -> dict[str, str]:
    """A row less what the outbox's worker may change between two reads (a delivery's state)."""
    if path != "/notifications":
        return row
    return {k: v for k, v in row.items() if k not in DELIVERY_STATE}


DELIVERY_STATE = ("status", "next_attempt_at", "delivered_at", "last_error", "attempts")


def test_unpaged_lists_and_other_paged_lists_export_their_json_rows(trading: Api) -> None:
    for n in (1, 2, 3):
        trading.ok("/payments", {"bank_ref": f"BANK-{n}", "payer": "Contoso", "amount": f"{n}.00",
                                 "currency": "EUR", "value_date": f"2026-03-0{n}"},
                   201)  # fmt: skip
    trading.ok("/invoices/INV-2026-000001/credit-notes", {
        "kind": "return", "reason": "damaged", "credit_note_date": "2026-02-15",
        "lines": [{"line_no": 1, "quantity": "0.5"}]}, 201)  # fmt: skip
    for n in (2, 3):
        last = trading.ok(f"/invoices/INV-2026-00000{n}/write-offs",
                          {"amount": "0.50", "reason": "-small"}, 201)  # fmt: skip
    for caught_up in ("/write-offs", "/notifications"):  # their read models are up to date
        trading.read(caught_up, min_position=last["position"])
    listed: dict[str, list[dict[str, Any]]] = {
        path: trading.read(path)[key] for path, key in WHOLE_LISTS.items()
    }
    listed |= {path: every_page(trading, path) for path in PAGED_LISTS}
    for path in ("/open-items", "/ar/ageing", "/inventory/SKU-1/WH-1/movements",
                 "/payments/unapplied"):  # fmt: skip
        assert len(listed[path]) >= (1 if path == "/ar/ageing" else 3), path
    assert (len(listed["/credit-notes"]), len(listed["/write-offs"])) == (1, 2)
    assert {"customer", "currency", "not_due", "over_90", "total"} <= set(listed["/ar/ageing"][0])

    for path, items in listed.items():
        as_csv_file = csv_rows(trading.get(path, format="csv"))
        assert [settled(path, row) for row in as_csv_file] == [
            settled(path, {k: as_csv(v) for k, v in item.items()}) for item in items
        ], path
        as_xlsx_file = xlsx_rows(trading.get(path, format="xlsx"))
        assert len(as_xlsx_file) == len(items), path
        assert [list(cells) for cells in as_xlsx_file] == [list(item) for item in items], path
    ageing = xlsx_rows(trading.get("/ar/ageing", format="xlsx"))
    assert sum(Decimal(repr(row["total"])) for row in ageing) == sum(
        Decimal(row["open"]) for row in listed["/open-items"]
    )


def test_a_customer_reads_its_open_items_as_json_but_gets_no_file(trading: Api) -> None:
    customer = {"X-Role": "customer", "X-Customer": "C-1"}
    own = trading.client.get("/open-items", headers=customer)
    assert own.status_code == 200, own.text
    assert own.headers["content-type"] == "application/json"
    assert own.json()["items"] == trading.read("/open-items", customer="C-1")["items"]
    assert len(own.json()["items"]) == 3
    for fmt in ("csv", "xlsx"):
        answer = trading.client.get("/open-items", params={"format": fmt}, headers=customer)
        assert_problem(answer, 403, "forbidden")
    by_accept = trading.client.get("/open-items", headers={**customer, "Accept": XLSX_MEDIA})
    assert_problem(by_accept, 403, "forbidden")
    refused = trading.client.get("/ar/ageing", params={"format": "csv"},
                                 headers={"X-Role": "warehouse"})  # fmt: skip
    assert assert_problem(refused, 403, "forbidden")["permission"] == "finance:read"
    trading.runtime.settings.export_max_rows = 2  # three open items
    assert_problem(trading.get("/open-items", format="csv"), 422, "export-too-large")
